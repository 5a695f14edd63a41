"""The status service's response bodies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from services.status.ledger.schemas import EventProof
from shared.ledger.checkpoint import Checkpoint

from shared.status_model import CaseStatus, Stage, StageChange


class CaseSummary(BaseModel):
    case_id: str
    election_code: str
    agency_code: str | None
    province: str | None
    nip_in_roster: bool | None = Field(
        default=None, description="False: the NIP is missing from intake's roster (the report was accepted and "
        "flagged); null: no roster was loaded when it was filed.")
    stage: Stage
    open: bool
    opened_at: str
    updated_at: str
    report_count: int
    violation_codes: list[str]
    history: list[StageChange]


class ActiveBlock(BaseModel):
    block_id: str
    case_id: str | None
    cause: str | None = Field(description="overdue (the PPK did not follow up in time) or manual (BKN)")
    reason: str | None
    since: dt.datetime | None


class AsnStatus(BaseModel):
    nip: str
    blocked: bool = Field(default=False, description="Whether the personnel data is blocked now.")
    blocks: list[ActiveBlock] = Field(default_factory=list, description="The active blocks, oldest first.")
    open_cases: int
    cases: list[CaseSummary] = Field(description="Open cases first, then closed ones; newest first within each.")
    stream_position: int = Field(description="The last stream sequence this answer reflects.")
    checkpoint: Checkpoint = Field(description="The signed ledger checkpoint this answer was read at.")
    proofs: list[EventProof] | None = Field(
        default=None, description="With ?proofs=true: each event the cases rest on, with its inclusion proof "
        "against `checkpoint`, so `sbt verify --proof` can check the answer offline.")


class TimelineEntry(BaseModel):
    stream_seq: int
    id: str
    type: str
    source: str
    time: str
    producerseq: int
    prevhash: str
    hash: str
    traceparent: str | None = None
    data: dict[str, Any]


class Timeline(BaseModel):
    case_id: str
    stage: Stage
    events: list[TimelineEntry]
    stream_position: int
    checkpoint: Checkpoint = Field(description="The signed ledger checkpoint this answer was read at.")
    proofs: list[EventProof] | None = Field(
        default=None, description="With ?proofs=true: every event's inclusion proof against `checkpoint`.")


def summary_of(state: CaseStatus) -> CaseSummary:
    return CaseSummary(
        case_id=state.case_id,
        election_code=state.election_code,
        agency_code=state.agency_code,
        province=state.province,
        nip_in_roster=state.nip_in_roster,
        stage=state.stage,
        open=state.is_open,
        opened_at=state.opened_at,
        updated_at=state.updated_at,
        report_count=len(state.report_ids),
        violation_codes=list(state.violation_codes),
        history=list(state.history),
    )
