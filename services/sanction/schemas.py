"""The sanction service's request and response bodies: strict, bounded, and documented in the OpenAPI."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.events.reference import SanctionLevel
from shared.strict_types import IsoDate, StrictInt

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
DecreeNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# Dates far outside the working life of the system are refused up front (and keep calendar arithmetic bounded).
Day = Annotated[IsoDate, Field(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FollowupIn(Strict):
    decree_number: DecreeNumber = Field(description="The PPK's decree (SK) number.", examples=["800/123/BKD/2024"])
    decree_date: Day = Field(description="Date of the decree; not in the future, not before the recommendation.")
    sanction_level: SanctionLevel = Field(description="The sanction imposed.")
    effective_from: Day
    effective_until: Day | None = None
    reason: Reason | None = Field(
        default=None, description="Required when the sanction is lighter than the one recommended."
    )


class DeadlineChangeIn(Strict):
    reason: Reason = Field(description="Why the deadline changes; goes into the event and the audit trail.")
    on: Day | None = Field(
        default=None,
        description="The day the decision takes effect (e.g. the date of the letter); default today in Jakarta. "
        "Not in the future.",
    )


class ExtensionIn(Strict):
    reason: Reason
    working_days: StrictInt = Field(ge=1, le=60, description="Working days added to the current due date.")


class ReminderIn(Strict):
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="A short message to the PPK; goes into the event and the case's timeline.",
        examples=["Mohon segera menetapkan keputusan hukuman disiplin."],
    )


class ReminderView(BaseModel):
    event_id: str
    case_id: str
    agency_code: str | None
    message: str
    state: Literal["pending", "overdue"]
    due_date: dt.date
    working_days_left: int
    reminded_by_agency: str
    reminded_by_office: str | None
    reminded_at: dt.datetime


class SweepIn(Strict):
    as_of: Day | None = Field(default=None, description="Sweep as if it were this day; default today in Jakarta.")


class Decree(BaseModel):
    decree_number: str
    decree_date: dt.date
    sanction_level: str
    effective_from: dt.date
    effective_until: dt.date | None
    reason: str | None
    lighter_than_recommended: bool
    late: bool
    recorded_by_agency: str
    recorded_at: dt.datetime


class FollowupView(BaseModel):
    case_id: str
    nip: str
    agency_code: str | None
    ppk_title: str | None = Field(description="From the agency register, when known.")
    recommendation_number: str
    category: str
    recommended_level: str
    issued_on: dt.date
    state: Literal["pending", "suspended", "overdue", "done"]
    due_date: dt.date = Field(description="While suspended: the due date it had when suspended.")
    working_days_left: int | None = Field(
        description="Counted from today in Jakarta (negative once overdue); while suspended, the days kept; "
        "none once done."
    )
    suspended_on: dt.date | None
    warned_on: dt.date | None
    overdue_on: dt.date | None
    followup: Decree | None


class FollowupPage(BaseModel):
    items: list[FollowupView]
    next_after: str | None = Field(description="Pass as `after` to read the next page; none on the last page.")


class SweepItem(BaseModel):
    case_id: str
    kind: Literal["early_warning", "due_today", "overdue"]
    due_date: dt.date
    working_days_left: int
    event_id: str


class SweepResult(BaseModel):
    as_of: dt.date
    warnings: list[SweepItem]
    overdue: list[SweepItem]
