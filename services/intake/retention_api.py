"""The retention routes: sweep on demand, and record that an election's archive was made and verified."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from services.intake import retention
from services.intake.schemas import ArchiveIn, ArchiveRecorded, RetentionSweep, RetentionSweepIn
from shared.auth import Actor, require
from shared.service import RuntimeDep

router = APIRouter(prefix="/v1/retention", tags=["ops"])

CanOperate = Annotated[Actor, Depends(require("ops:write"))]


@router.post("/sweeps", response_model=RetentionSweep,
             summary="Apply the retention rules as of a day (default today): identities, evidence, cases")
async def sweep(body: RetentionSweepIn, actor: CanOperate, runtime: RuntimeDep) -> RetentionSweep:
    """Returns what this sweep removed (each with its event) and the cases still waiting for an archive."""
    return await retention.run(runtime=runtime, as_of=body.as_of or runtime.clock.today())


@router.post("/archives", response_model=ArchiveRecorded, status_code=status.HTTP_201_CREATED,
             summary="Record a verified archive of an election (sbt archive does): its cases may then be retired")
async def record_archive(body: ArchiveIn, actor: CanOperate, runtime: RuntimeDep) -> ArchiveRecorded:
    return await retention.record_archive(runtime=runtime, body=body,
                                          recorded_by=f"{actor.agency}/{actor.client_id}")
