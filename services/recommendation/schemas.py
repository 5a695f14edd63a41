"""The recommendation service's request and response bodies: strict, bounded, documented."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.recommendation.domain import Stage
from services.recommendation.roles import RoleAssignment
from shared.events.reference import Category, SanctionLevel

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
LegalBasis = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerificationIn(Strict):
    outcome: Literal["accepted", "rejected", "cancelled", "out_of_service"] = Field(
        description="accepted: goes on to examination; rejected or cancelled: closed; out_of_service: the "
        "civil servant is no longer in service."
    )
    reason: Reason = Field(description="Why; shown in the shared status and the case's timeline.")


Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class ClarificationIn(Strict):
    outcome: Literal["given", "declined"] = Field(
        description="given: the reported civil servant clarified (summary required); declined: they were "
        "given the chance and declined (no summary)."
    )
    clarified_on: dt.date | None = Field(default=None, description="The day they clarified or declined; not in "
                                         "the future. Default: today (Asia/Jakarta).")
    summary: Summary | None = Field(default=None, description="What they said, in short: given only. Read by "
                                    "the examining authority and admins only; never on the bus.")


class ExaminationIn(Strict):
    outcome: Literal["proven", "not_proven"]
    category: Category | None = Field(
        default=None, description="Proven only. Default: the category of the case's heaviest catalogued violation."
    )
    sanction_level: SanctionLevel | None = Field(
        default=None, description="Proven only. Default: the catalogue's heaviest default sanction for the case."
    )
    legal_basis: LegalBasis | None = Field(default=None, description="Proven only. Default: from the catalogue.")
    reason: Reason


class Verification(BaseModel):
    outcome: str
    reason: str
    decided_by_agency: str
    decided_at: dt.datetime


class Clarification(BaseModel):
    outcome: Literal["given", "declined"]
    clarified_on: dt.date
    summary: str | None = Field(default=None, description="Shown to the examining authority and admins only "
                                "(case:examine); null for others and when declined.")
    recorded_at: dt.datetime


class Examination(BaseModel):
    outcome: str
    reason: str
    examining_authority: str
    examined_at: dt.datetime
    category: str | None = None
    sanction_level: str | None = None
    legal_basis: str | None = None
    recommendation_number: str | None = None


class CaseOut(BaseModel):
    case_id: str
    nip: str
    election_code: str
    agency_code: str | None
    province: str | None
    violation_codes: list[str]
    report_count: int
    stage: Stage
    opened_at: dt.datetime
    verification_due: dt.date = Field(description="The task force's target date for the verification (not enforced).")
    verification_overdue: bool = Field(description="Still awaiting verification after the target date.")
    verification: Verification | None = None
    clarification: Clarification | None = None
    examination: Examination | None = None


class Worklist(BaseModel):
    stage: Stage
    items: list[CaseOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null on the last page.")
    as_of: dt.date = Field(description="The day (Asia/Jakarta) against which verification_overdue is judged.")


class RolesOn(BaseModel):
    on: dt.date = Field(description="The day (Asia/Jakarta) the answer is for.")
    examining_authority: RoleAssignment | None = Field(description="Who examines and recommends on that day.")
    verifiers: list[RoleAssignment] = Field(description="The agencies that verify reports on that day.")
