"""Which agency holds which role on a given day: configuration with dates, never code.

The examining authority moved from KASN to BKN (its Deputy for Oversight and Control) on 24 Aug 2024;
the task-force agencies verify reports. Such changes are one more dated entry in the assignments
(``SBT_ROLE_ASSIGNMENTS``, ``SBT_ROLE_ASSIGNMENTS_FILE`` or the shipped ``role_assignments.json``), and the
rules below read them as of the decision's date. Pure: the caller supplies the day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from services.recommendation.settings import RecommendationSettings

Role = Literal["examining_authority", "verifier"]
# Roles that exactly one agency holds at a time: two examining authorities on one day would make the
# authority of a recommendation depend on who asked first.
EXCLUSIVE_ROLES: frozenset[str] = frozenset({"examining_authority"})

SHIPPED_ASSIGNMENTS = Path(__file__).resolve().parent / "role_assignments.json"


class RoleAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    agency: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_\-]{0,39}$")
    valid_from: dt.date | None = Field(default=None, description="first day in the role; none: since ever")
    valid_until: dt.date | None = Field(default=None, description="last day in the role, inclusive; none: still")
    unit: str | None = Field(default=None, description="the unit that acts, e.g. a deputy of the agency")
    basis: str | None = Field(default=None, description="why the agency holds the role (decree, law)")

    @model_validator(mode="after")
    def _dates_in_order(self) -> "RoleAssignment":
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError(f"{self.role} {self.agency}: valid_until {self.valid_until} is before valid_from")
        return self

    def covers(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )

    def describe(self) -> str:
        since = f"from {self.valid_from}" if self.valid_from else ""
        until = f"until {self.valid_until}" if self.valid_until else ""
        period = " ".join(part for part in (since, until) if part) or "at all times"
        return f"{self.agency} {period}"


class NotInRole(Exception):
    """The caller's agency does not hold the role on that day."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _overlap(a: RoleAssignment, b: RoleAssignment) -> bool:
    a_start, b_start = a.valid_from or dt.date.min, b.valid_from or dt.date.min
    a_end, b_end = a.valid_until or dt.date.max, b.valid_until or dt.date.max
    return a_start <= b_end and b_start <= a_end


class RoleAssignments:
    def __init__(self, assignments: Iterable[RoleAssignment]) -> None:
        self.assignments = tuple(assignments)
        for role in EXCLUSIVE_ROLES:
            held = [a for a in self.assignments if a.role == role]
            for i, first in enumerate(held):
                for second in held[i + 1:]:
                    if _overlap(first, second):
                        raise ValueError(
                            f"{role} is held by one agency at a time, but {first.describe()} overlaps "
                            f"{second.describe()}"
                        )

    def holders(self, role: Role, day: dt.date) -> list[RoleAssignment]:
        return [a for a in self.assignments if a.role == role and a.covers(day)]

    def examining_authority(self, day: dt.date) -> RoleAssignment | None:
        holders = self.holders("examining_authority", day)
        return holders[0] if holders else None

    def check(self, role: Role, agency: str, day: dt.date) -> RoleAssignment:
        """The assignment under which ``agency`` acts in ``role`` on ``day``; ``NotInRole`` otherwise."""
        holders = self.holders(role, day)
        for assignment in holders:
            if assignment.agency == agency:
                return assignment
        word = role.replace("_", " ")
        if not holders:
            raise NotInRole(f"no agency is configured as {word} on {day}")
        names = ", ".join(sorted(a.agency for a in holders))
        raise NotInRole(f"{agency} is not the {word} on {day}; on that day it is {names}")


_ADAPTER = TypeAdapter(list[RoleAssignment])


def parse(document: object) -> RoleAssignments:
    """From the JSON document: a list of assignments, or ``{"assignments": [...]}``."""
    if isinstance(document, dict):
        document = document.get("assignments")
    return RoleAssignments(_ADAPTER.validate_python(document))


def from_settings(settings: RecommendationSettings) -> RoleAssignments:
    """Inline assignments win over a file, a configured file over the shipped one. A broken
    configuration stops the service at start rather than deciding with the wrong authority."""
    if settings.role_assignments is not None:
        return parse(settings.role_assignments)
    path = settings.role_assignments_file or SHIPPED_ASSIGNMENTS
    return parse(json.loads(Path(path).read_text()))
