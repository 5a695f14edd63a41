"""BKN follows up a PPK: a reminder of the sanction the PPK still owes, by a regional office for its region's
agencies or by the blocking desk for any. The reminder moves no deadline; its event (in the same transaction
as the obligation's lock) is the record, and reaches the case's timeline and the PPK's subscriptions."""

from __future__ import annotations

from services.sanction import domain
from services.sanction.followups import get_for_update, refused
from services.sanction.schemas import ReminderIn, ReminderView
from shared.auth import Actor
from shared.authz import may_see_case
from shared.events.sanction import PpkReminded
from shared.problems import Problem
from shared.service import Runtime

REMIND = "followup:remind"


def _not_found(case_id: str) -> Problem:
    # The same answer for a case outside the caller's region as for one without an obligation: an office
    # learns nothing of another region's cases by trying their ids.
    return Problem(404, "not found", f"no follow-up obligation for case {case_id}")


async def remind(*, runtime: Runtime, case_id: str, body: ReminderIn, actor: Actor) -> ReminderView:
    today, now = runtime.clock.today(), runtime.clock.now()
    async with runtime.transaction() as session:
        try:
            row = await get_for_update(session, case_id)
        except Problem:
            raise _not_found(case_id) from None
        if not may_see_case(actor, REMIND, row.agency_code):
            raise _not_found(case_id)
        try:
            state = domain.transition(domain.State(row.state), domain.Action.REMIND)
        except domain.TransitionRefused as error:
            raise refused(error) from None
        left = domain.working_days_left(today, row.due_date, runtime.calendar)
        office = actor.bkn_office if "bkn_regional" in actor.roles else None
        envelope = await runtime.outbox.stage(
            session,
            PpkReminded(
                case_id=row.case_id, nip=row.nip, agency_code=row.agency_code, message=body.message,
                state=state.value, due_date=row.due_date, working_days_left=left,
                reminded_by_agency=actor.agency, reminded_by_office=office, reminded_at=now,
            ),
            subject=row.case_id,
        )
    return ReminderView(
        event_id=envelope.id, case_id=row.case_id, agency_code=row.agency_code, message=body.message,
        state=state.value, due_date=row.due_date, working_days_left=left, reminded_by_agency=actor.agency,
        reminded_by_office=office, reminded_at=now,
    )
