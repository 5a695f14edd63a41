"""What blocking consumes: sanction's overdue and follow-up events (and the deadline moves that take a case
out of the overdue count). Each handler decides within the consumer's transaction; none commits.

An overdue case is blocked at once only under ``SBT_BLOCKING_POLICY=automatic``. Under ``decision`` (the
default) it goes on the blockers' worklist: blocking is BKN's decision (services/blocking/decisions.py).
Early warnings and escalation are the same under both."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.blocking import blocks, domain
from services.blocking.models import Block, Escalation, WatchedCase
from shared.events.retention import CaseRetired
from shared.events.sanction import DeadlineExtended, DeadlineResumed, FollowupOverdue, FollowupRecorded
from shared.messaging.consumer import HandlerTable, Incoming
from shared.service import Runtime

log = logging.getLogger("sbt.blocking")

# Who placed or lifted a block the service decided on its own, in the audit columns.
AUTOMATIC = "sbt-blocking"


def handlers(runtime: Runtime) -> HandlerTable:
    async def on_overdue(session: AsyncSession, event: Incoming[FollowupOverdue]) -> None:
        data = event.data
        watch = await blocks.lock_agency(session, runtime, data.agency_code) if data.agency_code else None
        case = await session.get(WatchedCase, data.case_id)
        if case is not None and case.followed_up:
            return  # the PPK already acted; a late overdue notice must not block anyone
        if case is None:
            case = WatchedCase(case_id=data.case_id, nip=data.nip)
            session.add(case)
        case.agency_code = data.agency_code or case.agency_code
        case.due_date, case.overdue, case.followed_up = data.due_date, True, False
        case.updated_at = runtime.clock.now()
        await session.flush()
        blocked = await blocks.active_block_under(session, domain.case_key(data.case_id)) is not None
        if runtime.settings.blocking_policy == "decision":
            case.awaiting_decision = not blocked
        elif not blocked:
            await blocks.place(
                session, runtime, nip=data.nip, case_id=data.case_id, agency_code=data.agency_code,
                cause="overdue", reason=domain.overdue_reason(data.due_date), blocked_by=AUTOMATIC,
            )
        if watch is not None:
            await blocks.review_escalation(session, runtime, watch)

    async def on_followup(session: AsyncSession, event: Incoming[FollowupRecorded]) -> None:
        data = event.data
        agency_code = data.agency_code or data.recorded_by_agency
        watch = await blocks.lock_agency(session, runtime, agency_code) if agency_code else None
        case = await session.get(WatchedCase, data.case_id)
        if case is None:
            case = WatchedCase(case_id=data.case_id, nip=data.nip, agency_code=agency_code)
            session.add(case)
        case.overdue, case.followed_up, case.updated_at = False, True, runtime.clock.now()
        case.awaiting_decision = False
        await session.flush()
        block = await blocks.active_block_under(session, domain.case_key(data.case_id))
        if block is not None:
            await blocks.lift(session, runtime, block, cause="followup",
                              reason=domain.followup_reason(data.decree_number), lifted_by=AUTOMATIC)
        if watch is not None:
            await blocks.review_escalation(session, runtime, watch)

    async def on_deadline_moved(session: AsyncSession, event: Incoming[DeadlineExtended | DeadlineResumed]) -> None:
        """An extension or a resumed deadline puts the due date in the future again: the case leaves the
        overdue count (which may re-arm the agency's escalation). A block stays until the follow-up or
        BKN lifts it: the block answers the PPK's silence, which an extension does not undo."""
        data = event.data
        case = await session.get(WatchedCase, data.case_id)
        if case is None or not case.overdue:
            if case is not None:
                case.due_date = data.due_date
            return
        watch = await blocks.lock_agency(session, runtime, case.agency_code) if case.agency_code else None
        case.overdue, case.due_date, case.updated_at = False, data.due_date, runtime.clock.now()
        case.awaiting_decision = False  # not overdue any more: nothing for BKN to decide until it is again
        await session.flush()
        if watch is not None:
            await blocks.review_escalation(session, runtime, watch)

    async def on_case_retired(session: AsyncSession, event: Incoming[CaseRetired]) -> None:
        """A closed case at the end of its retention period (intake's sweep) leaves this service's books: its
        worklist entry and last decision, its lifted blocks, and its id in the agency's past escalations.
        Idempotent: what is gone stays gone. The hot path's index holds active blocks only, so removing
        lifted ones changes no answer."""
        case_id = event.data.case_id
        case = await session.get(WatchedCase, case_id)
        if case is not None and case.agency_code:
            for escalation in (await session.scalars(select(Escalation).where(
                    Escalation.agency_code == case.agency_code))).all():
                if case_id in escalation.overdue_case_ids:
                    escalation.overdue_case_ids = [other for other in escalation.overdue_case_ids if other != case_id]
        await session.execute(delete(WatchedCase).where(WatchedCase.case_id == case_id))
        await session.execute(delete(Block).where(Block.case_id == case_id, Block.lifted_at.is_not(None)))
        in_force = (await session.scalars(select(Block.block_id).where(
            Block.case_id == case_id, Block.lifted_at.is_(None)))).all()
        if in_force:
            # A retired case is closed, so its block should have been lifted long ago. Lifting it here would
            # change a civil servant's standing on the strength of a housekeeping event, with no one's
            # decision behind it: the block stays, answered as before, until BKN lifts it by hand.
            log.warning("case %s retired while its block %s is still in force; the block is kept for BKN to "
                        "review and lift", case_id, ", ".join(in_force))

    return {
        CaseRetired: on_case_retired,
        FollowupOverdue: on_overdue,
        FollowupRecorded: on_followup,
        DeadlineExtended: on_deadline_moved,
        DeadlineResumed: on_deadline_moved,
    }
