"""``GET /v1/agencies/{code}/cases``: the PPK worklist (a PPK sees only its own agency)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from services.status import worklists
from services.status.api import _position
from shared.auth import Actor, require
from shared.problems import Problem
from shared.service import RuntimeDep
from shared.status_model import Stage

router = APIRouter(prefix="/v1", tags=["worklists"])

CanReadWorklist = Annotated[Actor, Depends(require(worklists.PERMISSION))]


class WorklistCase(BaseModel):
    case_id: str
    nip: str
    election_code: str
    province: str | None
    stage: Stage
    category: str | None
    recommended_level: str | None
    recommendation_number: str | None
    due_date: dt.date | None
    working_days_left: int | None = Field(description="0 on the due day, negative once it has passed")
    warned: bool
    overdue: bool
    deadline_suspended: bool
    blocked: bool


class Worklist(BaseModel):
    agency_code: str
    stage: Stage
    today: dt.date = Field(description="The day the working days are counted from (Jakarta time).")
    total: int
    cases: list[WorklistCase] = Field(description="Soonest due first; cases without a due date last.")
    stream_position: int


@router.get("/agencies/{code}/cases", response_model=Worklist,
            summary="An agency's cases at a stage (the PPK worklist), with due dates and working days left",
            responses={403: {"description": "a PPK asking for another agency's cases"}})
async def agency_cases(
    code: Annotated[str, Path(max_length=40, description="agency (instansi) code")],
    actor: CanReadWorklist,
    runtime: RuntimeDep,
    stage: Annotated[Stage, Query()] = Stage.AWAITING_PPK,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,  # bounded: a huge offset overflows the database
) -> Worklist:
    if not worklists.may_read(actor, code):
        raise Problem(403, "forbidden", f"{code}'s cases are outside this caller's agencies "
                                        f"(ppk_agency {actor.ppk_agency or '-'}, bkn_office {actor.bkn_office or '-'})")
    today = runtime.clock.today()
    async with runtime.sessions() as session:
        total, states = await worklists.cases(session, agency_code=code, stage=stage, limit=limit, offset=offset)
        position = await _position(session, runtime)
    items = worklists.with_days_left(states, today=today, calendar=runtime.calendar)
    return Worklist(
        agency_code=code, stage=stage, today=today, total=total, stream_position=position,
        cases=[
            WorklistCase(
                case_id=i.state.case_id, nip=i.state.nip, election_code=i.state.election_code,
                province=i.state.province, stage=i.state.stage, category=i.state.category,
                recommended_level=i.state.recommended_level, recommendation_number=i.state.recommendation_number,
                due_date=i.due_date, working_days_left=i.working_days_left, warned=i.state.warned,
                overdue=i.state.overdue, deadline_suspended=i.state.deadline_suspended, blocked=i.state.blocked,
            )
            for i in items
        ],
    )
