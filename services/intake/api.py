"""Intake's routes: parse, authorise, call the service layer, map errors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response, status

from services.intake import reports
from services.intake.schemas import ReportAccepted, ReportIn, ReportView
from shared.auth import Actor, require
from shared.service import RuntimeDep

router = APIRouter(prefix="/v1", tags=["reports"])

CanReport = Annotated[Actor, Depends(require("report:create"))]
CanReadReport = Annotated[Actor, Depends(require("report:read"))]
CanEraseIdentity = Annotated[Actor, Depends(require("reporter-identity:erase"))]
ReportId = Annotated[str, Path(max_length=40)]


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportAccepted,
    summary="File a report on a civil servant",
    responses={
        413: {"description": "body too large"},
        422: {"description": "a field is invalid, or the Idempotency-Key was reused with another body"},
    },
)
async def file_report(
    body: ReportIn,
    actor: CanReport,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ReportAccepted:
    """Opens a case, or attaches the report to the open case of the same NIP and election, and publishes
    ``report.received`` (and ``case.opened``) through the outbox. Retrying with the same
    ``Idempotency-Key`` returns the first answer and files nothing new."""
    result = await reports.file(runtime=runtime, report=body, actor=actor, idempotency_key=idempotency_key)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return result.accepted




@router.get(
    "/reports/{report_id}",
    response_model=ReportView,
    summary="One report; the reporter's identity only for roles that need it",
    responses={404: {"description": "no such report, or not one this caller may read"}},
)
async def read_report(report_id: ReportId, actor: CanReadReport, runtime: RuntimeDep) -> ReportView:
    """A reporter agency reads only the reports it filed; verifiers, examiners and admins read any. The
    reporter's name and contact are opened only for roles granted ``reporter-identity:read``."""
    return await reports.read(runtime=runtime, report_id=report_id, actor=actor)


@router.delete(
    "/reports/{report_id}/reporter-identity",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Erase the reporter's identity for good; the report and its case stay",
    responses={404: {"description": "no such report"}},
)
async def erase_reporter_identity(report_id: ReportId, actor: CanEraseIdentity, runtime: RuntimeDep) -> Response:
    """Destroys the report's data key (and its sealed identity): the ciphertext that the audit trail keeps
    can never be opened again. Erasing twice is harmless."""
    await reports.erase_identity(runtime=runtime, report_id=report_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
