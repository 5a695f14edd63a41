"""The sanction service's routes: parse, authorise, call the service layer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, status

from services.sanction import deadlines, followups, reminders, sweeps
from services.sanction.schemas import (
    DeadlineChangeIn,
    ExtensionIn,
    FollowupIn,
    FollowupPage,
    FollowupView,
    ReminderIn,
    ReminderView,
    SweepIn,
    SweepResult,
)
from shared.auth import Actor, require
from shared.service import RuntimeDep

router = APIRouter(prefix="/v1", tags=["follow-ups"])

CanRecord = Annotated[Actor, Depends(require(followups.RECORD))]
CanRead = Annotated[Actor, Depends(require(followups.READ))]
CanRemind = Annotated[Actor, Depends(require(reminders.REMIND))]
CanManageDeadlines = Annotated[Actor, Depends(require("deadline:manage"))]
CanSweep = Annotated[Actor, Depends(require("ops:write"))]
CaseId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_\-]+$")]
AgencyCode = Annotated[str, Query(pattern=r"^[A-Z0-9][A-Z0-9_\-]{0,39}$")]

_ERRORS = {
    403: {"description": "not this caller's agency (a PPK acts only for its own)"},
    404: {"description": "no recommendation was seen for this case"},
    409: {"description": "not possible in the obligation's current state"},
    422: {"description": "a field is invalid; the problem body names it"},
}


@router.post("/cases/{case_id}/followup", status_code=status.HTTP_201_CREATED, response_model=FollowupView,
             summary="The PPK records the decree imposing the sanction", responses=_ERRORS)
async def record_followup(case_id: CaseId, body: FollowupIn, actor: CanRecord, runtime: RuntimeDep) -> FollowupView:
    """Publishes ``followup.recorded``. A sanction lighter than recommended needs a `reason` and is flagged;
    a follow-up after the due date (or once overdue) is marked late; a second one is a 409."""
    return await followups.record(runtime=runtime, case_id=case_id, body=body, actor=actor)


@router.post("/cases/{case_id}/reminders", status_code=status.HTTP_201_CREATED, response_model=ReminderView,
             summary="BKN reminds the PPK of the sanction it still owes (deadline running or passed)",
             responses={404: {"description": "no follow-up obligation for this case, or not one of the caller's "
                                             "region (the same answer)"},
                        409: _ERRORS[409], 422: _ERRORS[422]})
async def remind_ppk(case_id: CaseId, body: ReminderIn, actor: CanRemind, runtime: RuntimeDep) -> ReminderView:
    """Publishes ``followup.ppk_reminded`` with who reminded (the agency and, for a Kanreg, its office) and when.
    A regional office reminds only for its region's agencies; a case whose follow-up is recorded or whose
    deadline is suspended is a 409."""
    return await reminders.remind(runtime=runtime, case_id=case_id, body=body, actor=actor)


@router.post("/cases/{case_id}/deadline/suspend", response_model=FollowupView, responses=_ERRORS,
             summary="Suspend the deadline (BKN oversight), keeping the working days left")
async def suspend_deadline(
    case_id: CaseId, body: DeadlineChangeIn, actor: CanManageDeadlines, runtime: RuntimeDep
) -> FollowupView:
    """A suspended deadline never goes overdue. Publishes ``followup.deadline_suspended``."""
    return await deadlines.suspend(runtime=runtime, case_id=case_id, body=body, actor=actor)


@router.post("/cases/{case_id}/deadline/resume", response_model=FollowupView, responses=_ERRORS,
             summary="Resume a suspended deadline: new due date = resumption date + the working days left")
async def resume_deadline(
    case_id: CaseId, body: DeadlineChangeIn, actor: CanManageDeadlines, runtime: RuntimeDep
) -> FollowupView:
    return await deadlines.resume(runtime=runtime, case_id=case_id, body=body, actor=actor)


@router.post("/cases/{case_id}/deadline/extend", response_model=FollowupView, responses=_ERRORS,
             summary="Extend the deadline by a number of working days")
async def extend_deadline(
    case_id: CaseId, body: ExtensionIn, actor: CanManageDeadlines, runtime: RuntimeDep
) -> FollowupView:
    return await deadlines.extend(runtime=runtime, case_id=case_id, body=body, actor=actor)


@router.get("/followups", response_model=FollowupPage, summary="Follow-up obligations, by agency and state",
            responses={403: _ERRORS[403], 422: _ERRORS[422]})
async def list_followups(
    actor: CanRead,
    runtime: RuntimeDep,
    agency: AgencyCode | None = None,
    state: Literal["pending", "suspended", "overdue", "done"] | None = None,
    nip: Annotated[str | None, Query(pattern=r"^[0-9]{18}$")] = None,
    after: Annotated[str | None, Query(max_length=40, description="the `next_after` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FollowupPage:
    """A PPK sees only its own agency (its token's `ppk_agency`), a BKN regional office its region's agencies
    (its token's `bkn_office`); national readers see any."""
    return await followups.list_page(runtime=runtime, actor=actor, agency=agency, state=state, nip=nip,
                                     after=after, limit=limit)


@router.get("/followups/{case_id}", response_model=FollowupView, summary="One case's follow-up obligation",
            responses={403: _ERRORS[403], 404: _ERRORS[404]})
async def get_followup(case_id: CaseId, actor: CanRead, runtime: RuntimeDep) -> FollowupView:
    return await followups.get(runtime=runtime, case_id=case_id, actor=actor)


@router.post("/sweeps", response_model=SweepResult, tags=["ops"],
             summary="Sweep the deadlines as of a day (default today): warnings and overdue, each at most once")
async def sweep(body: SweepIn, actor: CanSweep, runtime: RuntimeDep) -> SweepResult:
    """Returns what this sweep announced; announcements made earlier (by any sweep) are not repeated."""
    return await sweeps.run(runtime=runtime, as_of=body.as_of or runtime.clock.today())
