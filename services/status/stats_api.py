"""``GET /v1/stats``: the funnel, overall and by election, province and agency."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.status import stats
from services.status.api import _position
from shared.auth import Actor, require
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
    unblocked: int = Field(description="a block from the case was lifted")
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


@router.get("/stats", response_model=Figures, summary="The case funnel, by election, province and agency")
async def figures(
    actor: CanReadStats,
    runtime: RuntimeDep,
    election: Filter = None,
    province: Filter = None,
    agency: Filter = None,
) -> Figures:
    async with runtime.sessions() as session:
        result = await stats.funnel(session, election=election, province=province, agency=agency)
        position = await _position(session, runtime)
    return Figures(**result, stream_position=position)
