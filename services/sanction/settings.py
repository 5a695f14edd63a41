"""The sanction service's settings: the shared parts it uses and its own knobs (``SBT_`` variables)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import BusSettings, ServiceSettings, SweepSettings


class SanctionSettings(ServiceSettings, BusSettings, SweepSettings):
    # The PPK's follow-up deadline, in working days after the recommendation (sources say 10 or 3), the early
    # warning threshold in working days left (how often it sweeps: SweepSettings).
    followup_working_days: int = Field(default=10, ge=1, le=250)
    warning_working_days: int = Field(default=3, ge=0, le=250)


@lru_cache
def get_settings() -> SanctionSettings:
    return SanctionSettings()
