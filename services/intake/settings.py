"""The intake service's settings: the shared parts it uses and its own knobs (``SBT_`` variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from shared.settings import BusSettings, SealSettings, ServiceSettings, SweepSettings


class IntakeSettings(ServiceSettings, BusSettings, SealSettings, SweepSettings):
    # Where a public report without a NIP belongs: the national complaints service, SP4N-LAPOR!. Intake's
    # public form answers such a report 422 with this address.
    lapor_url: str = "https://www.lapor.go.id"
    # How long a closed case keeps its reporter's identity, its evidence links and itself, per outcome
    # (shared/retention.py); unset: the shipped deploy/seed/retention.json. Swept every sweep_interval_seconds.
    retention_rules: Path | None = None
    # The status service's ledger keys (key id -> public PEM, as GET /v1/ledger/keys publishes them): an
    # election archive is recorded only under a seal one of them signed (services/intake/archive_seal.py).
    # Unset outside production: the development ledger key under SBT_DATA_DIR, as the status service makes it.
    ledger_public_keys: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_development_ledger_key_in_production(self) -> Self:
        if self.env == "production" and not self.ledger_public_keys:
            raise ValueError("SBT_LEDGER_PUBLIC_KEYS must be set in production (the archive seal's key)")
        return self


@lru_cache
def get_settings() -> IntakeSettings:
    return IntakeSettings()
