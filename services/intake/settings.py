"""The intake service's settings: the shared parts it uses and its own knobs (``SBT_`` variables)."""

from __future__ import annotations

from functools import lru_cache

from shared.settings import BusSettings, SealSettings, ServiceSettings


class IntakeSettings(ServiceSettings, BusSettings, SealSettings):
    # Where a public report without a NIP belongs: the national complaints service, SP4N-LAPOR!. Intake's
    # public form answers such a report 422 with this address.
    lapor_url: str = "https://www.lapor.go.id"


@lru_cache
def get_settings() -> IntakeSettings:
    return IntakeSettings()
