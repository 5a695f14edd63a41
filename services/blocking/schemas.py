"""The blocking service's request and response bodies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.strict_types import StrictInt

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=2000)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_\-]{0,39}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ManualBlockIn(Strict):
    reason: Reason = Field(description="Why BKN blocks the personnel data; published with the block.")
    case_id: Identifier | None = Field(default=None, description="The case the block answers, if any.")
    agency_code: Code | None = Field(default=None, description="The civil servant's agency, when known.")


class ManualUnblockIn(Strict):
    reason: Reason = Field(description="Why BKN lifts the block; published with the unblock.")
    block_id: Identifier | None = Field(default=None,
                                        description="The block to lift; without it, every active block of the NIP.")


class BlockOut(BaseModel):
    block_id: str
    case_id: str | None
    agency_code: str | None
    cause: Literal["overdue", "manual"]
    reason: str
    since: dt.datetime


class BlockStatus(BaseModel):
    nip: str
    blocked: bool = Field(description="True while any block is active: no promotion, transfer or pension.")
    since: dt.datetime | None = Field(description="When the oldest active block was placed.")
    blocks: list[BlockOut] = Field(description="The active blocks, oldest first.")


class UnblockResult(BaseModel):
    nip: str
    lifted: list[str] = Field(description="The ids of the blocks lifted by this request.")
    blocked: bool = Field(description="Whether the NIP is still blocked (by blocks not lifted here).")


class EscalationOut(BaseModel):
    escalation_id: str
    agency_code: str
    overdue_case_ids: list[str]
    threshold: int
    raised_at: dt.datetime


class EscalationList(BaseModel):
    escalations: list[EscalationOut] = Field(description="Newest first.")


class DecisionIn(Strict):
    decision: Literal["block", "more_time", "decline"] = Field(
        description="block: block the personnel data now; more_time: the PPK gets `working_days` more (the "
        "deadline is extended); decline: no block, and `reason` says why.")
    reason: Reason = Field(description="Why; published with the decision and shown on the case's timeline.")
    working_days: StrictInt | None = Field(default=None, ge=1, le=60,
                                           description="more_time only: working days added to the due date.")


class DecisionOut(BaseModel):
    case_id: str
    decision: Literal["blocked", "time_granted", "declined"]
    block_id: str | None = Field(description="The block placed, when the decision was to block.")
    decided_at: dt.datetime


class AwaitingDecision(BaseModel):
    case_id: str
    nip: str
    agency_code: str | None
    due_date: dt.date | None
    working_days_overdue: int | None = Field(description="Working days since the due date (Jakarta).")


class DecisionWorklist(BaseModel):
    total: int
    items: list[AwaitingDecision] = Field(description="Longest overdue first.")


class BulkCheckIn(Strict):
    nips: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        min_length=1, max_length=1000, description="Up to 1,000 NIPs, e.g. a personnel system's batch of promotions."
    )


class BulkCheckResult(BaseModel):
    nip: str
    blocked: bool
    since: dt.datetime | None


class BulkCheckOut(BaseModel):
    checked: int
    blocked: int = Field(description="How many of the NIPs are blocked.")
    results: list[BulkCheckResult] = Field(description="One per NIP, in the order asked.")
