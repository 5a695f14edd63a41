"""Filing a report: one transaction that opens or finds the case, stores the report, stages its events
and remembers the answer under the client's Idempotency-Key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import reporter_identity
from services.intake.domain import open_case_key, request_fingerprint
from services.intake.models import Case, IdempotencyRecord, Report
from services.intake.reference.lookup import route_report
from services.intake.schemas import ReportAccepted, ReporterIdentity, ReportIn, ReportView
from shared.auth import Actor
from shared.authz import allowed
from shared.db import utcnow
from shared.events.intake import CaseOpened, ReportReceived
from shared.ids import complaint_ref, new_complaint_number, new_id
from shared.problems import Problem
from shared.service import Runtime

# A concurrent report on the same NIP and election, or a concurrent retry with the same key, makes one of
# the two transactions fail on a unique index; running it again then finds what the other one wrote.
_ATTEMPTS = 3


@dataclass
class Filed:
    accepted: ReportAccepted
    replayed: bool


async def file(*, runtime: Runtime, report: ReportIn, actor: Actor, idempotency_key: str | None) -> Filed:
    fingerprint = request_fingerprint(report.model_dump(mode="json"))
    for attempt in range(_ATTEMPTS):
        try:
            async with runtime.transaction() as session:
                if idempotency_key:
                    earlier = await _earlier_answer(session, actor, idempotency_key, fingerprint)
                    if earlier is not None:
                        return Filed(earlier, replayed=True)
                accepted = await _file_new(session, runtime, report, actor)
                if idempotency_key:
                    session.add(
                        IdempotencyRecord(
                            client_id=actor.client_id,
                            key=idempotency_key,
                            request_hash=fingerprint,
                            status_code=201,
                            response=accepted.model_dump(mode="json"),
                            created_at=utcnow(),
                        )
                    )
                    await session.flush()
                return Filed(accepted, replayed=False)
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def _earlier_answer(
    session: AsyncSession, actor: Actor, key: str, fingerprint: str
) -> ReportAccepted | None:
    record = await session.get(IdempotencyRecord, (actor.client_id, key))
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise Problem.field("Idempotency-Key", "already used with a different request body")
    return ReportAccepted.model_validate(record.response)


async def _file_new(session: AsyncSession, runtime: Runtime, report: ReportIn, actor: Actor) -> ReportAccepted:
    now = utcnow()
    key = open_case_key(report.nip, report.election_code)
    # The roster says which agency the civil servant belongs to; a NIP missing from it is accepted, flagged.
    routing = await route_report(session, nip=report.nip, agency_code=report.agency_code, province=report.province)
    case = await session.scalar(select(Case).where(Case.open_key == key))
    opened = case is None
    if opened:
        case = Case(
            id=new_id(),
            nip=report.nip,
            election_code=report.election_code,
            agency_code=routing.agency_code,
            province=routing.province,
            open_key=key,
            opened_at=now,
        )
        session.add(case)
        await session.flush()

    complaint_number = new_complaint_number(now.year)
    evidence = [str(url) for url in report.evidence_urls]
    report_id = new_id()
    identity = reporter_identity.seal_identity(
        reporter_identity.keyring(runtime.settings),
        report_id,
        report.reporter.model_dump(exclude={"category"}, exclude_none=True),
    )
    row = Report(
        id=report_id,
        case_id=case.id,
        complaint_ref=complaint_ref(complaint_number),
        nip=report.nip,
        agency_code=routing.agency_code or case.agency_code,
        election_code=report.election_code,
        violation_codes=list(report.violation_codes),
        incident_date=report.incident_date,
        incident_place=report.incident_place,
        province=routing.province,
        description=report.description,
        evidence_urls=evidence,
        reporter_category=report.reporter.category,
        reporter_identity_sealed=identity.sealed if identity else None,
        reporter_identity_key=identity.wrapped_key if identity else None,
        submitted_by_client=actor.client_id,
        submitted_by_agency=actor.agency,
        received_at=now,
    )
    session.add(row)
    await session.flush()

    if opened:
        await runtime.outbox.stage(
            session,
            CaseOpened(
                case_id=case.id,
                nip=case.nip,
                election_code=case.election_code,
                agency_code=case.agency_code,
                province=case.province,
                first_report_id=row.id,
                opened_at=now,
                nip_in_roster=routing.nip_in_roster,
            ),
            subject=case.id,
        )
    await runtime.outbox.stage(
        session,
        ReportReceived(
            report_id=row.id,
            case_id=case.id,
            nip=row.nip,
            agency_code=row.agency_code,
            election_code=row.election_code,
            violation_codes=row.violation_codes,
            incident_date=row.incident_date,
            incident_place=row.incident_place,
            province=row.province,
            description=row.description,
            evidence_urls=evidence,
            reporter_category=row.reporter_category,
            complaint_ref=row.complaint_ref,
            received_at=now,
            nip_in_roster=routing.nip_in_roster,
            reporter_identity_sealed=row.reporter_identity_sealed,
        ),
        subject=case.id,
    )
    return ReportAccepted(report_id=row.id, case_id=case.id, complaint_number=complaint_number, case_opened=opened)


_SEES_EVERY_REPORT = frozenset({"verifier", "examiner", "admin"})


async def read(*, runtime: Runtime, report_id: str, actor: Actor) -> ReportView:
    async with runtime.sessions() as session:
        row = await session.get(Report, report_id)
    # A reporter agency sees only what it filed; another agency's report is "not found", not "forbidden",
    # so that its existence does not leak either.
    if row is None or (not (actor.roles & _SEES_EVERY_REPORT) and row.submitted_by_agency != actor.agency):
        raise Problem(404, "not found", f"no report {report_id}")
    identity, shown = None, "none"
    if row.reporter_identity_erased_at is not None:
        shown = "erased"
    elif row.reporter_identity_key:
        if allowed("reporter-identity:read", actor.roles):
            opened = reporter_identity.open_identity(
                reporter_identity.keyring(runtime.settings), row.id, row.reporter_identity_sealed,
                row.reporter_identity_key,
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
    async with runtime.transaction() as session:
        row = await session.get(Report, report_id, with_for_update=True)
        if row is None:
            raise Problem(404, "not found", f"no report {report_id}")
        if row.reporter_identity_erased_at is None:
            row.reporter_identity_key = None
            row.reporter_identity_sealed = None
            row.reporter_identity_erased_at = utcnow()
