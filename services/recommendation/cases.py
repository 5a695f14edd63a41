"""The service layer: each decision is one transaction that checks the caller's role on the day, moves
the case by the transition table and stages its events, so the state and its events commit together."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.recommendation import domain
from services.recommendation.models import Case, RecommendationSerial, Violation
from services.recommendation.roles import NotInRole, RoleAssignments
from services.recommendation.schemas import (
    CaseOut,
    Clarification,
    ClarificationIn,
    Examination,
    ExaminationIn,
    Verification,
    VerificationIn,
    Worklist,
)
from shared.auth import Actor
from shared.authz import allowed, may_see_case, scope_of
from shared.events.recommendation import CaseExamined, ClarificationRecorded, RecommendationIssued, VerificationDecided
from shared.problems import Problem
from shared.service import Runtime

MAX_PAGE = 200


def to_out(case: Case, today: dt.date, actor: Actor | None = None) -> CaseOut:
    """The case as ``actor`` may read it: the clarification's summary only to the examining side
    (case:examine), by least need; everyone else reads that it was given or declined, and when."""
    verification = examination = clarification = None
    if case.clarification_outcome is not None and case.clarified_on is not None:
        reads_summary = actor is not None and allowed(EXAMINE, actor.roles)
        clarification = Clarification(
            outcome="given" if case.clarification_outcome == "given" else "declined",
            clarified_on=case.clarified_on, recorded_at=case.clarification_recorded_at or case.updated_at,
            summary=case.clarification_summary if reads_summary else None,
        )
    if case.verification_outcome is not None:
        verification = Verification(
            outcome=case.verification_outcome, reason=case.verification_reason or "",
            decided_by_agency=case.verified_by_agency or "", decided_at=case.verified_at,
        )
    if case.examination_outcome is not None:
        examination = Examination(
            outcome=case.examination_outcome, reason=case.examination_reason or "",
            examining_authority=case.examining_authority or "", examined_at=case.examined_at,
            category=case.category, sanction_level=case.sanction_level, legal_basis=case.legal_basis,
            recommendation_number=case.recommendation_number,
        )
    return CaseOut(
        case_id=case.case_id, nip=case.nip, election_code=case.election_code, agency_code=case.agency_code,
        province=case.province, violation_codes=list(case.violation_codes), report_count=case.report_count,
        stage=domain.Stage(case.stage), opened_at=case.opened_at, verification_due=case.verification_due,
        verification_overdue=case.stage == domain.Stage.AWAITING_VERIFICATION and today > case.verification_due,
        verification=verification, clarification=clarification, examination=examination,
    )


READ, VERIFY, EXAMINE = "worklist:read", "case:verify", "case:examine"


async def get(*, runtime: Runtime, case_id: str, actor: Actor) -> CaseOut:
    async with runtime.sessions() as session:
        case = await session.get(Case, case_id)
    if case is None or not may_see_case(actor, READ, case.agency_code):
        raise _not_found(case_id)
    return to_out(case, runtime.clock.today(), actor)


async def worklist(
    *, runtime: Runtime, actor: Actor, stage: domain.Stage, limit: int, after: str | None,
    election_code: str | None = None, agency_code: str | None = None,
) -> Worklist:
    """One page of the cases in ``stage`` the caller may see, oldest first (case ids are time-ordered
    ULIDs), keyset-paged so a page costs the same however deep it is."""
    query = select(Case).where(Case.stage == stage.value).order_by(Case.case_id).limit(limit + 1)
    scope = scope_of(actor, READ)
    if not scope.every_agency:
        query = query.where(Case.agency_code.in_(sorted(scope.agencies)))
    if after:
        query = query.where(Case.case_id > after)
    if election_code:
        query = query.where(Case.election_code == election_code)
    if agency_code:
        query = query.where(Case.agency_code == agency_code)
    async with runtime.sessions() as session:
        rows = list((await session.scalars(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    today = runtime.clock.today()
    return Worklist(
        stage=stage, items=[to_out(row, today, actor) for row in rows],
        next_cursor=rows[-1].case_id if more and rows else None, as_of=today,
    )


async def verify(
    *, runtime: Runtime, roles: RoleAssignments, case_id: str, decision: VerificationIn, actor: Actor
) -> CaseOut:
    today = runtime.clock.today()
    _in_role(roles, "verifier", actor, today)
    async with runtime.transaction() as session:
        case = await _locked_case(session, case_id, actor, VERIFY)
        target = _next(case, domain.Step.VERIFICATION, decision.outcome)
        now = runtime.clock.now()
        case.stage = target.value
        case.verification_outcome = decision.outcome
        case.verification_reason = decision.reason
        case.verified_by_agency = actor.agency
        case.verified_by_client = actor.client_id
        case.verified_at = now
        case.updated_at = now
        await runtime.outbox.stage(
            session,
            VerificationDecided(
                case_id=case.case_id, nip=case.nip, outcome=decision.outcome, reason=decision.reason,
                decided_by_agency=actor.agency, decided_at=now,
            ),
            subject=case.case_id,
        )
    return to_out(case, today, actor)


async def clarify(
    *, runtime: Runtime, roles: RoleAssignments, case_id: str, body: ClarificationIn, actor: Actor
) -> CaseOut:
    """Record the reported civil servant's clarification (or that they declined) on a case awaiting
    examination, by the examining authority of the day: once, and with its event in the same transaction."""
    today = runtime.clock.today()
    _in_role(roles, "examining_authority", actor, today)
    clarified_on = body.clarified_on or today
    if clarified_on > today:
        raise Problem.field("clarified_on", f"{clarified_on} is in the future (today is {today})")
    if body.outcome == "given" and body.summary is None:
        raise Problem.field("summary", "required when the clarification was given")
    if body.outcome == "declined" and body.summary is not None:
        raise Problem.field("summary", "only when the clarification was given, not when declined")
    async with runtime.transaction() as session:
        case = await _locked_case(session, case_id, actor, EXAMINE)
        if case.stage != domain.Stage.AWAITING_EXAMINATION.value:
            raise Problem(409, "conflict", f"case {case_id}: a clarification is recorded while the case awaits "
                                           f"examination; it is {case.stage}")
        if case.clarification_outcome is not None:
            raise Problem(409, "conflict", f"case {case_id}: the clarification was already recorded "
                                           f"({case.clarification_outcome} on {case.clarified_on})")
        now = runtime.clock.now()
        case.clarification_outcome = body.outcome
        case.clarified_on = clarified_on
        case.clarification_summary = body.summary
        case.clarification_recorded_by = actor.client_id
        case.clarification_recorded_at = now
        case.updated_at = now
        digest = hashlib.sha256(body.summary.encode()).hexdigest() if body.summary is not None else None
        await runtime.outbox.stage(
            session,
            ClarificationRecorded(
                case_id=case.case_id, nip=case.nip, outcome=body.outcome, clarified_on=clarified_on,
                summary_sha256=digest, recorded_by_agency=actor.agency, recorded_at=now,
            ),
            subject=case.case_id,
        )
    return to_out(case, today, actor)


async def examine(
    *, runtime: Runtime, roles: RoleAssignments, case_id: str, decision: ExaminationIn, actor: Actor
) -> CaseOut:
    today = runtime.clock.today()
    authority = _in_role(roles, "examining_authority", actor, today)
    if decision.outcome == "not_proven":
        for field in ("category", "sanction_level", "legal_basis"):
            if getattr(decision, field) is not None:
                raise Problem.field(field, "only a proven case is given a category, sanction level or legal basis")
    async with runtime.transaction() as session:
        case = await _locked_case(session, case_id, actor, EXAMINE)
        target = _next(case, domain.Step.EXAMINATION, decision.outcome)
        if decision.outcome == "proven" and case.clarification_outcome is None:
            # Presumption of innocence: the civil servant is heard (or declines) before being found at fault.
            raise Problem(409, "clarification required",
                          f"case {case_id}: the reported civil servant's clarification is not recorded; record it "
                          f"(given or declined) with POST /v1/cases/{case_id}/clarification before a proven finding")
        finding = None
        if decision.outcome == "proven":
            finding = await _finding(session, case, decision)
        now = runtime.clock.now()
        case.stage = target.value
        case.examination_outcome = decision.outcome
        case.examination_reason = decision.reason
        case.examining_authority = authority.agency
        case.examined_by_client = actor.client_id
        case.examined_at = now
        case.updated_at = now
        if finding is not None:
            case.category = finding.category
            case.sanction_level = finding.sanction_level
            case.legal_basis = finding.legal_basis
            case.recommendation_number = domain.recommendation_number(
                today.year, await _next_serial(session, today.year)
            )
        await runtime.outbox.stage(
            session,
            CaseExamined(
                case_id=case.case_id, nip=case.nip, outcome=decision.outcome,
                category=case.category, sanction_level=case.sanction_level,
                violation_codes=list(case.violation_codes), legal_basis=case.legal_basis,
                reason=decision.reason, examining_authority=authority.agency, examined_at=now,
            ),
            subject=case.case_id,
        )
        if finding is not None:
            await runtime.outbox.stage(
                session,
                RecommendationIssued(
                    case_id=case.case_id, recommendation_number=case.recommendation_number, nip=case.nip,
                    agency_code=case.agency_code, category=finding.category,
                    sanction_level=finding.sanction_level, legal_basis=finding.legal_basis,
                    examining_authority=authority.agency, issued_at=now,
                ),
                subject=case.case_id,
            )
    return to_out(case, today, actor)


def _in_role(roles: RoleAssignments, role, actor: Actor, today: dt.date):  # noqa: ANN001, ANN202
    try:
        return roles.check(role, actor.agency, today)
    except NotInRole as refused:
        raise Problem(403, "not in role", refused.detail) from None


def _not_found(case_id: str) -> Problem:
    return Problem(404, "not found", f"no case {case_id} is known to the recommendation service")


async def _locked_case(session: AsyncSession, case_id: str, actor: Actor, permission: str) -> Case:
    # The row lock makes two concurrent decisions on one case queue: the second sees the first's stage
    # and is refused by the transition table (SQLite's BEGIN IMMEDIATE queues them the same way).
    case = await session.scalar(select(Case).where(Case.case_id == case_id).with_for_update())
    if case is None or not may_see_case(actor, permission, case.agency_code):
        raise _not_found(case_id)
    return case


def _next(case: Case, step: domain.Step, outcome: str) -> domain.Stage:
    try:
        return domain.next_stage(domain.Stage(case.stage), step, outcome)
    except domain.TransitionRefused as refused:
        raise Problem(409, "conflict", f"case {case.case_id}: {refused.detail}") from None


async def _finding(session: AsyncSession, case: Case, decision: ExaminationIn) -> domain.Finding:
    rows = (await session.scalars(select(Violation).where(Violation.code.in_(case.violation_codes)))).all()
    catalogue = {
        row.code: domain.CatalogueEntry(row.code, row.category, row.legal_basis, row.default_sanction) for row in rows
    }
    try:
        return domain.resolve_finding(
            case.violation_codes, catalogue, category=decision.category,
            sanction_level=decision.sanction_level, legal_basis=decision.legal_basis,
        )
    except domain.InvalidFinding as invalid:
        raise Problem.field(invalid.field, invalid.reason) from None


async def _next_serial(session: AsyncSession, year: int) -> int:
    """The year's next recommendation serial; the UPDATE locks the year's row until commit."""
    bump = (
        update(RecommendationSerial)
        .where(RecommendationSerial.year == year)
        .values(last=RecommendationSerial.last + 1)
        .returning(RecommendationSerial.last)
        .execution_options(synchronize_session=False)
    )
    serial = (await session.execute(bump)).scalar()
    if serial is not None:
        return serial
    try:
        async with session.begin_nested():  # the year's first: another examination may insert it too
            session.add(RecommendationSerial(year=year, last=1))
        return 1
    except IntegrityError:
        return (await session.execute(bump)).scalar_one()
