"""The sanction service's settings: the shared parts it uses and its own knobs (``SBT_`` variables)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import BusSettings, ServiceSettings


class SanctionSettings(ServiceSettings, BusSettings):
    # The PPK's follow-up deadline, in working days after the recommendation (sources say 10 or 3), the early
    # warning threshold in working days left, and how often the sanction service sweeps (0 turns it off).
    followup_working_days: int = Field(default=10, ge=1, le=250)
    warning_working_days: int = Field(default=3, ge=0, le=250)
    sweep_interval_seconds: float = Field(default=300.0, ge=0)


@lru_cache
def get_settings() -> SanctionSettings:
    return SanctionSettings()
