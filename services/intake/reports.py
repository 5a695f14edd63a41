"""Reports: filing one (through the group-commit filer, services/intake/filing.py), reading one with the
reporter's identity opened only for the roles that need it, and erasing that identity."""

from __future__ import annotations

from sqlalchemy import delete

from services.intake import erasure, reporter_identity
from services.intake.filing import Filed, Submission, filer
from services.intake.models import Report, ReporterIdentityKey
from services.intake.schemas import ReporterIdentity, ReportIn, ReportView
from shared.auth import Actor
from shared.authz import allowed
from shared.problems import Problem
from shared.service import Runtime

__all__ = ["Filed", "erase_identity", "file", "read"]


async def file(*, runtime: Runtime, report: ReportIn, actor: Actor, idempotency_key: str | None) -> Filed:
    """Opens a case or joins the open one of the same NIP and election, stores the report and stages its
    events, in one transaction shared with the reports filed at the same moment; or, for an
    Idempotency-Key used before, the first answer."""
    submission = Submission.prepare(runtime, report, actor, idempotency_key)
    return await filer(runtime).file(submission)


_SEES_EVERY_REPORT = frozenset({"verifier", "examiner", "admin"})


async def read(*, runtime: Runtime, report_id: str, actor: Actor) -> ReportView:
    may_open = allowed("reporter-identity:read", actor.roles)
    async with runtime.sessions() as session:
        row = await session.get(Report, report_id)
        key = await session.get(ReporterIdentityKey, report_id) if row is not None and may_open else None
    # A reporter agency sees only what it filed; another agency's report is "not found", not "forbidden",
    # so that its existence does not leak either.
    if row is None or (not (actor.roles & _SEES_EVERY_REPORT) and row.submitted_by_agency != actor.agency):
        raise Problem(404, "not found", f"no report {report_id}")
    identity, shown = None, "none"
    if row.reporter_identity_erased_at is not None:
        shown = "erased"
    elif row.reporter_identity_sealed:
        if may_open:
            opened = reporter_identity.open_identity(
                reporter_identity.keyring(runtime.settings), row.id, row.reporter_identity_sealed,
                key.wrapped_key if key else None,
            )
            identity, shown = (ReporterIdentity(**opened), "shown") if opened else (None, "erased")
        else:
            shown = "withheld"
    return ReportView(
        report_id=row.id,
        case_id=row.case_id,
        nip=row.nip,
        agency_code=row.agency_code,
        election_code=row.election_code,
        violation_codes=row.violation_codes,
        incident_date=row.incident_date,
        incident_place=row.incident_place,
        province=row.province,
        description=row.description,
        evidence_urls=row.evidence_urls,
        reporter_category=row.reporter_category,
        submitted_by_agency=row.submitted_by_agency,
        received_at=row.received_at,
        reporter_identity=shown,
        reporter=identity,
    )


async def erase_identity(*, runtime: Runtime, report_id: str) -> None:
    """Deletes the report's wrapped data key and its sealed identity, then scrubs what the database may
    still keep of them (services/intake/erasure.py). Erasing twice scrubs again and is otherwise harmless."""
    async with runtime.transaction() as session:
        row = await session.get(Report, report_id, with_for_update=True)
        if row is None:
            raise Problem(404, "not found", f"no report {report_id}")
        await session.execute(delete(ReporterIdentityKey).where(ReporterIdentityKey.report_id == report_id))
        if row.reporter_identity_erased_at is None:
            row.reporter_identity_sealed = None
            row.reporter_identity_erased_at = runtime.clock.now()
        xid = await erasure.erasing_transaction(session)
    await erasure.scrub(runtime.engine, xid)
