"""The recommendation service's settings: the shared parts it uses and its own knobs (``SBT_`` variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field

from shared.settings import BusSettings, ServiceSettings


class RecommendationSettings(ServiceSettings, BusSettings):
    # Which agency holds which role (examining authority, verifier), with dates: data, not code. Inline JSON
    # (a list of {role, agency, valid_from, valid_until}) or a JSON file; unset means the assignments
    # shipped in services/recommendation/role_assignments.json.
    role_assignments: list[dict[str, Any]] | None = None
    role_assignments_file: Path | None = None
    # The task force's target for verifying a report (7 days in the 2024 procedure); shown, not enforced.
    verification_target_days: int = Field(default=7, ge=1, le=90)
    verification_target_in_working_days: bool = False


@lru_cache
def get_settings() -> RecommendationSettings:
    return RecommendationSettings()
