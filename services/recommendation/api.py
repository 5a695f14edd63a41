"""The recommendation service's routes: parse, authorise, call the service layer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from services.recommendation import cases
from services.recommendation.domain import Stage
from services.recommendation.roles import RoleAssignments
from services.recommendation.schemas import CaseOut, ClarificationIn, ExaminationIn, RolesOn, VerificationIn, Worklist
from shared.auth import Actor, require
from shared.service import RuntimeDep
from shared.strict_types import IsoDate

router = APIRouter(prefix="/v1", tags=["verification and examination"])

CanReadWorklist = Annotated[Actor, Depends(require(cases.READ))]
CanVerify = Annotated[Actor, Depends(require(cases.VERIFY))]
CanExamine = Annotated[Actor, Depends(require(cases.EXAMINE))]
CaseId = Annotated[str, Path(max_length=40, description="The case id (from intake's answer or the status)")]
Code = Annotated[str | None, Query(max_length=40, pattern=r"^[A-Z0-9][A-Z0-9_\-]*$")]


def get_role_assignments(request: Request) -> RoleAssignments:
    return request.app.state.role_assignments


RolesDep = Annotated[RoleAssignments, Depends(get_role_assignments)]

_DECISION_ERRORS = {
    403: {"description": "the permission is missing, or the caller's agency does not hold the role that day"},
    404: {"description": "no such case"},
    409: {"description": "the case is not in a stage where this decision can be taken (e.g. already decided)"},
    422: {"description": "a field is invalid or missing; the problem body names it"},
}


@router.get("/cases", response_model=Worklist, summary="A worklist: the cases in one stage, oldest first",
            responses={422: {"description": "a query parameter is invalid"}})
async def worklist(
    actor: CanReadWorklist,
    runtime: RuntimeDep,
    stage: Annotated[Stage, Query(description="awaiting_verification (the task force's) or awaiting_examination "
                                              "(the examining authority's); closed stages are listed too")]
    = Stage.AWAITING_VERIFICATION,
    limit: Annotated[int, Query(ge=1, le=cases.MAX_PAGE)] = 50,
    after: Annotated[str | None, Query(max_length=40, description="next_cursor of the previous page")] = None,
    election_code: Code = None,
    agency_code: Code = None,
) -> Worklist:
    return await cases.worklist(runtime=runtime, actor=actor, stage=stage, limit=limit, after=after,
                                election_code=election_code, agency_code=agency_code)


@router.get("/cases/{case_id}", response_model=CaseOut, summary="One case as the examining side sees it",
            responses={404: {"description": "no such case"}})
async def read_case(case_id: CaseId, actor: CanReadWorklist, runtime: RuntimeDep) -> CaseOut:
    return await cases.get(runtime=runtime, case_id=case_id, actor=actor)


@router.post("/cases/{case_id}/verification", status_code=status.HTTP_201_CREATED, response_model=CaseOut,
             summary="The task force's verification of a case", responses=_DECISION_ERRORS)
async def verify(
    case_id: CaseId, body: VerificationIn, actor: CanVerify, runtime: RuntimeDep, roles: RolesDep
) -> CaseOut:
    """Decided once, by an agency that is a verifier on the day: accepted cases go on to examination;
    publishes ``case.verification_decided``."""
    return await cases.verify(runtime=runtime, roles=roles, case_id=case_id, decision=body, actor=actor)


@router.post("/cases/{case_id}/clarification", status_code=status.HTTP_201_CREATED, response_model=CaseOut,
             summary="The reported civil servant's clarification (or that they declined), before the finding",
             responses=_DECISION_ERRORS)
async def clarify(
    case_id: CaseId, body: ClarificationIn, actor: CanExamine, runtime: RuntimeDep, roles: RolesDep
) -> CaseOut:
    """Presumption of innocence: the examining authority of the day hears the civil servant (or records
    that they declined) while the case awaits examination, once; a proven finding is refused (409) until
    this is recorded. Publishes ``case.clarification_recorded`` with the outcome and day, not the words:
    the summary is kept here and shown only to callers holding case:examine."""
    return await cases.clarify(runtime=runtime, roles=roles, case_id=case_id, body=body, actor=actor)


@router.post("/cases/{case_id}/examination", status_code=status.HTTP_201_CREATED, response_model=CaseOut,
             summary="The examining authority's finding, and the recommendation when proven",
             responses=_DECISION_ERRORS)
async def examine(
    case_id: CaseId, body: ExaminationIn, actor: CanExamine, runtime: RuntimeDep, roles: RolesDep
) -> CaseOut:
    """Only for a case accepted at verification, and only by the agency that is the examining authority on
    the day (KASN until 23 Aug 2024, BKN from 24 Aug 2024, as configured; the rule holds for every caller,
    admin included, because the event names the agency as the examining authority). Publishes ``case.examined``
    and, when proven, ``recommendation.issued`` with a new recommendation number, in one transaction.
    Category, sanction level and legal basis default from the catalogue entry of the case's heaviest
    violation. A proven finding needs the civil servant's clarification recorded first (409 otherwise,
    nothing written)."""
    return await cases.examine(runtime=runtime, roles=roles, case_id=case_id, decision=body, actor=actor)


@router.get("/role-assignments", response_model=RolesOn, summary="Which agency examines and which verify on a day",
            responses={422: {"description": "the date is invalid"}})
async def role_assignments(
    actor: CanReadWorklist,
    runtime: RuntimeDep,
    roles: RolesDep,
    on: Annotated[IsoDate | None, Query(description="default: today in Asia/Jakarta")] = None,
) -> RolesOn:
    """The configured assignments as of ``on``: the decisions of that day are checked against this answer."""
    day = on or runtime.clock.today()
    return RolesOn(on=day, examining_authority=roles.examining_authority(day),
                   verifiers=sorted(roles.holders("verifier", day), key=lambda a: a.agency))
