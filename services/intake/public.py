"""Intake's public report form: no token, rate-limited per client IP, the reporter's category forced to
public. The answer is only the complaint number: whether a case already existed is not the public's to know."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from sqlalchemy import select

from services.intake import reports
from services.intake.models import PublicCaseStage, Report
from services.intake.schemas import ComplaintStage, PublicReportAccepted, PublicReportIn, ReceiptConfirmed
from shared import receipts
from shared.auth import Actor, public
from shared.ids import complaint_ref
from shared.problems import Problem
from shared.service import RuntimeDep
from shared.status_model import Stage

router = APIRouter(prefix="/v1/public", tags=["public"])

Anyone = Annotated[Actor, Depends(public("public:report"))]
AnyoneChecking = Annotated[Actor, Depends(public("public:complaint"))]
ComplaintNumber = Annotated[str, Path(min_length=10, max_length=40, pattern=r"^[A-Za-z0-9-]+$",
                                      examples=["SBT-2024-7K3M-QX9P-2D4F"])]


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=PublicReportAccepted,
    summary="The public report form (no token)",
    responses={
        413: {"description": "body too large"},
        422: {"description": "a field is invalid; without a NIP, the answer's `lapor_url` says where such "
                            "reports belong (SP4N-LAPOR!)"},
        429: {"description": "too many requests from this address; see Retry-After"},
    },
)
async def file_public_report(body: PublicReportIn, actor: Anyone, runtime: RuntimeDep) -> PublicReportAccepted:
    """Files the report like any other (it joins the open case of the same NIP and election) and returns
    the complaint number to check its progress with. Without a NIP: 422 pointing to SP4N-LAPOR!."""
    if body.nip is None:
        raise without_nip(runtime.settings.lapor_url)
    result = await reports.file(runtime=runtime, report=body, actor=actor, idempotency_key=None)
    return PublicReportAccepted(complaint_number=result.accepted.complaint_number, receipt=result.accepted.receipt)


def without_nip(lapor_url: str) -> Problem:
    """SBT handles reports on a named civil servant; the procedure sends the others to SP4N-LAPOR!."""
    reason = f"required; a report without the civil servant's NIP belongs to SP4N-LAPOR! ({lapor_url})"
    return Problem(
        422, "invalid request",
        f"nip: {reason}. Laporan tanpa NIP ASN yang dilaporkan disampaikan melalui SP4N-LAPOR!: {lapor_url}",
        errors=[{"field": "nip", "reason": reason}],
        extensions={"lapor_url": lapor_url},
    )


@router.get(
    "/complaints/{number}",
    response_model=ComplaintStage,
    response_model_exclude_none=True,  # `receipt` only when one was presented
    summary="Cek Status Laporan: the stage of the case a complaint number belongs to (no token)",
    responses={
        404: {"description": "no report has this complaint number"},
        422: {"description": "not shaped like a complaint number, or a receipt that is not intake's or not this "
                            "report's"},
        429: {"description": "too many requests from this address; see Retry-After"},
    },
)
async def check_complaint(
    number: ComplaintNumber, actor: AnyoneChecking, runtime: RuntimeDep,
    receipt: Annotated[str | None, Query(max_length=2000, description="the receipt given with the number "
                                         "(`sbt verify-receipt --token` prints it): confirmed in the answer")] = None,
) -> ComplaintStage:
    """Only the stage: not the civil servant, not the case, not who else reported. Numbers carry 60 random
    bits and the check is rate-limited, so guessing one is hopeless. With the receipt, the answer also
    confirms its claim: intake issued it, for this number, and the report filed under it is the one whose
    hash it names."""
    presented = _presented(receipt, number, runtime) if receipt is not None else None
    async with runtime.sessions() as session:
        row = (await session.execute(select(Report.case_id, Report.received_at, Report.filed_sha256)
                                     .where(Report.complaint_ref == complaint_ref(number)))).one_or_none()
        if row is None:
            raise Problem(404, "not found", "no report has this complaint number")
        stage = await session.scalar(select(PublicCaseStage.stage).where(PublicCaseStage.case_id == row.case_id))
    confirmed = None
    if presented is not None:
        if row.filed_sha256 != presented.filed_sha256 or receipts.utc_text(row.received_at) != presented.received_at:
            raise Problem.field("query.receipt", "does not match the report filed under this complaint number")
        confirmed = ReceiptConfirmed(received_at=presented.received_at, filed_sha256=presented.filed_sha256)
    # Until the case's own events come back from the bus (a moment), a filed report awaits verification.
    return ComplaintStage(stage=Stage(stage) if stage else Stage.AWAITING_VERIFICATION, receipt=confirmed)


def _presented(token: str, number: str, runtime) -> receipts.Receipt:  # noqa: ANN001 - shared.service.Runtime
    try:
        receipt = receipts.decode(token)
        receipts.check(receipt, runtime.producer_keys)
    except receipts.InvalidReceipt as error:
        raise Problem.field("query.receipt", str(error)) from None
    if receipt.complaint_number != number:
        raise Problem.field("query.receipt", "is the receipt of another complaint number")
    return receipt
