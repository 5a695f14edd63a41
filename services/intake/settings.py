"""The intake service's settings: the shared parts it uses and its own knobs (``SBT_`` variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from shared.settings import BusSettings, SealSettings, ServiceSettings, SweepSettings


class IntakeSettings(ServiceSettings, BusSettings, SealSettings, SweepSettings):
    # Where a public report without a NIP belongs: the national complaints service, SP4N-LAPOR!. Intake's
    # public form answers such a report 422 with this address.
    lapor_url: str = "https://www.lapor.go.id"
    # How long a closed case keeps its reporter's identity, its evidence links and itself, per outcome
    # (shared/retention.py); unset: the shipped deploy/seed/retention.json. Swept every sweep_interval_seconds.
    retention_rules: Path | None = None


@lru_cache
def get_settings() -> IntakeSettings:
    return IntakeSettings()
