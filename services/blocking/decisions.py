"""Blocking as BKN decides it (``SBT_BLOCKING_POLICY=decision``): an overdue case waits on the blockers'
worklist until a blocker blocks the civil servant's personnel data, gives the PPK more time (the sanction
service extends the deadline on the event), or records why not. Each decision is one transaction: the
case's row, the block (if any) and the decision's event commit together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from services.blocking import blocks
from services.blocking.models import WatchedCase
from services.blocking.schemas import DecisionIn
from shared.auth import Actor
from shared.events.blocking import BlockDeclined, MoreTimeGranted
from shared.problems import Problem
from shared.service import Runtime


@dataclass(frozen=True)
class Decided:
    case: WatchedCase
    block_id: str | None


async def worklist(*, runtime: Runtime, agency: str | None, limit: int, offset: int) -> tuple[int, Sequence[WatchedCase]]:
    """The overdue cases awaiting BKN's decision, longest overdue first, and how many there are."""
    where = [WatchedCase.awaiting_decision.is_(True)]
    if agency:
        where.append(WatchedCase.agency_code == agency)
    async with runtime.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(WatchedCase).where(*where))
        rows = (await session.scalars(select(WatchedCase).where(*where)
                                      .order_by(WatchedCase.due_date, WatchedCase.case_id)
                                      .limit(limit).offset(offset))).all()
    return int(total or 0), rows


async def decide(*, runtime: Runtime, case_id: str, body: DecisionIn, actor: Actor) -> Decided:
    if body.decision == "more_time" and body.working_days is None:
        raise Problem.field("working_days", "required when the decision is more_time")
    if body.decision != "more_time" and body.working_days is not None:
        raise Problem.field("working_days", "only with the decision more_time")
    now = runtime.clock.now()
    async with runtime.transaction() as session:
        case = await session.get(WatchedCase, case_id, with_for_update=True)
        if case is None:
            raise Problem(404, "not found", f"no overdue case {case_id} is known to the blocking service")
        if not case.awaiting_decision:
            why = ("its follow-up was recorded" if case.followed_up else
                   f"it was decided already ({case.decision})" if case.decision and case.overdue else
                   "it is not overdue")
            raise Problem(409, "nothing to decide", f"case {case_id} is not awaiting a blocking decision: {why}")
        block_id = None
        common = {"case_id": case.case_id, "nip": case.nip, "agency_code": case.agency_code,
                  "due_date": case.due_date, "reason": body.reason, "decided_by": actor.client_id,
                  "decided_at": now}
        if body.decision == "block":
            block = await blocks.place(session, runtime, nip=case.nip, case_id=case.case_id,
                                       agency_code=case.agency_code, cause="overdue", reason=body.reason,
                                       blocked_by=actor.client_id)
            block_id, decision = block.block_id, "blocked"
        elif body.decision == "more_time":
            await runtime.outbox.stage(session, MoreTimeGranted(**common, working_days=body.working_days),
                                       subject=case.case_id)
            decision = "time_granted"
        else:
            await runtime.outbox.stage(session, BlockDeclined(**common), subject=case.case_id)
            decision = "declined"
        case.awaiting_decision = False
        case.decision, case.decision_reason, case.decided_by, case.decided_at = (
            decision, body.reason, actor.client_id, now)
        case.updated_at = now
    return Decided(case, block_id)

