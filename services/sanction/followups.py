"""Follow-ups: the PPK records the decree; anyone entitled reads the obligations. Each write is one
transaction with its event; a refused request writes nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.sanction import domain
from services.sanction.models import Agency, Followup
from services.sanction.schemas import Decree, FollowupIn, FollowupPage, FollowupView
from shared.auth import Actor
from shared.authz import may_see_case, scope_of
from shared.events.sanction import FollowupRecorded
from shared.problems import Problem
from shared.service import Runtime

RECORD, READ = "followup:record", "followup:read"


async def get_for_update(session: AsyncSession, case_id: str) -> Followup:
    """The obligation, locked until the transaction ends (PostgreSQL; SQLite writers are serialised)."""
    row = await session.get(Followup, case_id, with_for_update=True)
    if row is None:
        raise Problem(404, "not found", f"no follow-up obligation for case {case_id}: no recommendation seen")
    return row


def refused(error: domain.TransitionRefused) -> Problem:
    return Problem(409, "conflict", str(error))


def invalid(problems: list[tuple[str, str]]) -> Problem:
    return Problem(
        422, "invalid request", "; ".join(f"{field}: {reason}" for field, reason in problems),
        errors=[{"field": field, "reason": reason} for field, reason in problems],
    )


async def record(*, runtime: Runtime, case_id: str, body: FollowupIn, actor: Actor) -> FollowupView:
    today, now = runtime.clock.today(), runtime.clock.now()
    async with runtime.transaction() as session:
        row = await get_for_update(session, case_id)
        if not may_see_case(actor, RECORD, row.agency_code):
            raise Problem(
                403, "forbidden",
                f"only the PPK of {row.agency_code or 'the case agency (unknown)'} records this follow-up; "
                f"the token acts for {actor.ppk_agency or 'no agency as PPK'}",
            )
        state = domain.State(row.state)
        try:
            new_state = domain.transition(state, domain.Action.RECORD)
        except domain.TransitionRefused as error:
            raise refused(error) from None
        entered = domain.FollowupInput(
            decree_date=body.decree_date, sanction_level=body.sanction_level, effective_from=body.effective_from,
            effective_until=body.effective_until, reason=body.reason,
        )
        problems = domain.followup_problems(
            entered, recommended_level=row.recommended_level, issued_on=row.issued_on, today=today
        )
        if problems:
            raise invalid(problems)

        row.lighter_than_recommended = domain.is_lighter(body.sanction_level, row.recommended_level)
        row.late = domain.is_late(state=state, due=row.due_date, decree_date=body.decree_date, recorded_on=today)
        row.state = new_state.value
        row.decree_number = body.decree_number
        row.decree_date = body.decree_date
        row.sanction_level = body.sanction_level
        row.effective_from = body.effective_from
        row.effective_until = body.effective_until
        row.reason = body.reason
        row.recorded_by_agency = actor.ppk_agency
        row.recorded_by_client = actor.client_id
        row.recorded_at = now
        row.updated_at = now
        await session.flush()
        await runtime.outbox.stage(
            session,
            FollowupRecorded(
                case_id=row.case_id, nip=row.nip, agency_code=row.agency_code,
                decree_number=body.decree_number, decree_date=body.decree_date,
                sanction_level=body.sanction_level, recommended_level=row.recommended_level,
                lighter_than_recommended=row.lighter_than_recommended, reason=body.reason,
                effective_from=body.effective_from, effective_until=body.effective_until, late=row.late,
                recorded_by_agency=actor.ppk_agency, recorded_at=now,
            ),
            subject=row.case_id,
        )
        ppk_title = await ppk_title_of(session, row.agency_code)
    return view(row, ppk_title=ppk_title, today=today, calendar=runtime.calendar)


def readable_agencies(actor: Actor, requested: str | None) -> frozenset[str] | None:
    """The agencies an actor may list (None: every agency): national readers any (or all), a PPK only its
    own, a regional office those of its region (or one of them)."""
    scope = scope_of(actor, READ)
    if scope.every_agency:
        return None if requested is None else frozenset({requested})
    if scope.nobody:
        raise Problem(403, "forbidden", "the token names no agency it acts for (ppk_agency) nor a regional "
                                        "office (bkn_office) it reads for")
    if requested is not None and not scope.admits(requested):
        raise Problem(403, "forbidden", f"the follow-ups of {requested} are outside this caller's agencies")
    return scope.agencies if requested is None else frozenset({requested})


async def get(*, runtime: Runtime, case_id: str, actor: Actor) -> FollowupView:
    async with runtime.sessions() as session:
        row = await session.get(Followup, case_id)
        if row is None:
            raise Problem(404, "not found", f"no follow-up obligation for case {case_id}")
        if not may_see_case(actor, READ, row.agency_code):
            raise Problem(403, "forbidden", "this follow-up is outside the caller's agencies")
        ppk_title = await ppk_title_of(session, row.agency_code)
    return view(row, ppk_title=ppk_title, today=runtime.clock.today(), calendar=runtime.calendar)


async def list_page(
    *, runtime: Runtime, actor: Actor, agency: str | None, state: str | None, nip: str | None,
    after: str | None, limit: int,
) -> FollowupPage:
    agencies = readable_agencies(actor, agency)
    query = select(Followup, Agency.ppk_title).outerjoin(Agency, Agency.code == Followup.agency_code)
    if agencies is not None:
        query = query.where(Followup.agency_code.in_(sorted(agencies)))
    if state is not None:
        query = query.where(Followup.state == state)
    if nip is not None:
        query = query.where(Followup.nip == nip)
    if after is not None:
        query = query.where(Followup.case_id > after)
    query = query.order_by(Followup.case_id).limit(limit + 1)
    async with runtime.sessions() as session:
        rows = (await session.execute(query)).all()
    today = runtime.clock.today()
    items = [view(row, ppk_title=title, today=today, calendar=runtime.calendar) for row, title in rows[:limit]]
    return FollowupPage(items=items, next_after=items[-1].case_id if len(rows) > limit else None)


async def ppk_title_of(session: AsyncSession, agency_code: str | None) -> str | None:
    if agency_code is None:
        return None
    agency = await session.get(Agency, agency_code)
    return agency.ppk_title if agency is not None else None


def view(row: Followup, *, ppk_title: str | None, today: dt.date, calendar: domain.Calendar) -> FollowupView:
    state = domain.State(row.state)
    if state is domain.State.DONE:
        left = None
    elif state is domain.State.SUSPENDED:
        left = row.suspended_days_left
    else:
        left = domain.working_days_left(today, row.due_date, calendar)
    decree = None
    if state is domain.State.DONE:
        decree = Decree(
            decree_number=row.decree_number, decree_date=row.decree_date, sanction_level=row.sanction_level,
            effective_from=row.effective_from, effective_until=row.effective_until, reason=row.reason,
            lighter_than_recommended=row.lighter_than_recommended, late=row.late,
            recorded_by_agency=row.recorded_by_agency, recorded_at=row.recorded_at,
        )
    return FollowupView(
        case_id=row.case_id, nip=row.nip, agency_code=row.agency_code, ppk_title=ppk_title,
        recommendation_number=row.recommendation_number, category=row.category,
        recommended_level=row.recommended_level, issued_on=row.issued_on, state=state.value,
        due_date=row.due_date, working_days_left=left, suspended_on=row.suspended_on, warned_on=row.warned_on,
        overdue_on=row.overdue_on, followup=decree,
    )
