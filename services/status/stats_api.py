"""``GET /v1/stats``: the funnel, overall and by election, province and agency."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.status import stats
from services.status.api import _position
from shared.auth import Actor, require
from shared.authz import scope_of
from shared.problems import Problem
from shared.service import RuntimeDep

router = APIRouter(prefix="/v1", tags=["figures"])

CanReadStats = Annotated[Actor, Depends(require("stats:read"))]
Filter = Annotated[str | None, Query(max_length=100)]


class Funnel(BaseModel):
    reported: int = Field(description="cases")
    verified: int = Field(description="accepted at verification")
    proven: int
    recommended: int
    followed_up: int = Field(description="the PPK imposed the sanction by decree")
    overdue: int = Field(description="overdue now: deadline passed, no follow-up")
    blocked: int = Field(description="personnel data blocked now because of the case")
    unblocked: int = Field(description="a block from the case was lifted (after a follow-up or by hand)")
    ever_blocked: int = Field(description="personnel data blocked at some point because of the case")
    unblocked_after_followup: int = Field(description="a block lifted once the PPK followed up (late)")
    unblocked_by_hand: int = Field(description="a block lifted by BKN by hand")
    block_declined: int = Field(description="overdue, and BKN recorded why it did not block")
    awaiting_ppk: int
    rejected: int
    not_proven: int
    cancelled: int
    out_of_service: int


class Figures(BaseModel):
    total: Funnel
    by_election: dict[str, Funnel]
    by_province: dict[str, Funnel] = Field(description=f"'{stats.UNKNOWN}' for cases reported without one")
    by_agency: dict[str, Funnel] = Field(description=f"'{stats.UNKNOWN}' for cases reported without one")
    stream_position: int = Field(description="The last stream sequence these figures reflect.")


@router.get("/stats", response_model=Figures, summary="The case funnel, by election, province and agency",
            responses={403: {"description": "an agency outside the caller's scope (a regional office's region)"}})
async def figures(
    actor: CanReadStats,
    runtime: RuntimeDep,
    election: Filter = None,
    province: Filter = None,
    agency: Filter = None,
) -> Figures:
    """National readers count every agency's cases; a BKN regional office only its region's agencies'."""
    scope = scope_of(actor, "stats:read")
    if not scope.every_agency and (scope.nobody or (agency and not scope.admits(agency))):
        raise Problem(403, "forbidden", f"the figures of {agency or 'every agency'} are not this caller's")
    within = None if scope.every_agency else scope.agencies
    async with runtime.sessions() as session:
        result = await stats.funnel(session, election=election, province=province, agency=agency, agencies=within)
        position = await _position(session, runtime)
    return Figures(**result, stream_position=position)
