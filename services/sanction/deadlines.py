"""BKN's oversight of a deadline: suspension, resumption and extension, each with a reason, each one
transaction that changes the obligation, keeps the audit row and stages the event."""

from __future__ import annotations

import datetime as dt

from services.sanction import domain
from services.sanction.followups import get_for_update, invalid, ppk_title_of, refused, view
from services.sanction.models import DeadlineChange, Followup
from services.sanction.schemas import DeadlineChangeIn, ExtensionIn, FollowupView
from shared.auth import Actor
from shared.events.sanction import DeadlineExtended, DeadlineResumed, DeadlineSuspended
from shared.problems import Problem
from shared.service import Runtime


def _effective_on(requested: dt.date | None, today: dt.date) -> dt.date:
    if requested is not None and requested > today:
        raise Problem.field("on", f"must not be in the future (today is {today.isoformat()})")
    return requested or today


def _transition(row: Followup, action: domain.Action) -> domain.State:
    try:
        return domain.transition(domain.State(row.state), action)
    except domain.TransitionRefused as error:
        raise refused(error) from None


def _audit(row: Followup, action: domain.Action, *, reason: str, on: dt.date, actor: Actor, now: dt.datetime,
           due_before: dt.date, due_after: dt.date | None, working_days: int | None = None) -> DeadlineChange:
    return DeadlineChange(
        case_id=row.case_id, action=action.value, reason=reason, effective_on=on, working_days=working_days,
        due_date_before=due_before, due_date_after=due_after, decided_by_agency=actor.agency,
        decided_by_client=actor.client_id, decided_at=now,
    )


async def suspend(*, runtime: Runtime, case_id: str, body: DeadlineChangeIn, actor: Actor) -> FollowupView:
    today, now = runtime.clock.today(), runtime.clock.now()
    on = _effective_on(body.on, today)
    async with runtime.transaction() as session:
        row = await get_for_update(session, case_id)
        new_state = _transition(row, domain.Action.SUSPEND)
        if on < row.issued_on:
            raise invalid([("on", f"must not be before the recommendation was issued ({row.issued_on.isoformat()})")])
        days_left = domain.days_left_at_suspension(on, row.due_date, runtime.calendar)
        session.add(_audit(row, domain.Action.SUSPEND, reason=body.reason, on=on, actor=actor, now=now,
                           due_before=row.due_date, due_after=None))
        row.state, row.suspended_on, row.suspended_days_left, row.updated_at = new_state.value, on, days_left, now
        await session.flush()
        await runtime.outbox.stage(
            session,
            DeadlineSuspended(case_id=row.case_id, reason=body.reason, suspended_on=on, working_days_left=days_left),
            subject=row.case_id,
        )
        title = await ppk_title_of(session, row.agency_code)
    return view(row, ppk_title=title, today=today, calendar=runtime.calendar)


async def resume(*, runtime: Runtime, case_id: str, body: DeadlineChangeIn, actor: Actor) -> FollowupView:
    today, now = runtime.clock.today(), runtime.clock.now()
    on = _effective_on(body.on, today)
    async with runtime.transaction() as session:
        row = await get_for_update(session, case_id)
        new_state = _transition(row, domain.Action.RESUME)
        if on < row.suspended_on:
            raise invalid([("on", f"must not be before the suspension ({row.suspended_on.isoformat()})")])
        due = domain.due_date_on_resumption(on, row.suspended_days_left or 0, runtime.calendar)
        session.add(_audit(row, domain.Action.RESUME, reason=body.reason, on=on, actor=actor, now=now,
                           due_before=row.due_date, due_after=due))
        row.state, row.due_date, row.overdue_on, row.updated_at = new_state.value, due, None, now
        row.suspended_on = row.suspended_days_left = None
        await session.flush()
        await runtime.outbox.stage(
            session, DeadlineResumed(case_id=row.case_id, reason=body.reason, resumed_on=on, due_date=due),
            subject=row.case_id,
        )
        title = await ppk_title_of(session, row.agency_code)
    return view(row, ppk_title=title, today=today, calendar=runtime.calendar)


async def extend(*, runtime: Runtime, case_id: str, body: ExtensionIn, actor: Actor) -> FollowupView:
    today, now = runtime.clock.today(), runtime.clock.now()
    async with runtime.transaction() as session:
        row = await get_for_update(session, case_id)
        new_state = _transition(row, domain.Action.EXTEND)
        due = domain.extended_due_date(row.due_date, body.working_days, runtime.calendar)
        session.add(_audit(row, domain.Action.EXTEND, reason=body.reason, on=today, actor=actor, now=now,
                           due_before=row.due_date, due_after=due, working_days=body.working_days))
        row.state, row.due_date, row.overdue_on, row.updated_at = new_state.value, due, None, now
        await session.flush()
        await runtime.outbox.stage(
            session,
            DeadlineExtended(case_id=row.case_id, reason=body.reason, working_days=body.working_days, due_date=due),
            subject=row.case_id,
        )
        title = await ppk_title_of(session, row.agency_code)
    return view(row, ppk_title=title, today=today, calendar=runtime.calendar)

