"""Placing, lifting and reading blocks, and reviewing an agency's escalation. Every function works inside
the caller's transaction and stages its events there: the block and its event commit together."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.blocking import domain
from services.blocking.models import AgencyWatch, Block, Escalation, WatchedCase
from shared.events.blocking import EscalationRaised, PersonnelBlocked, PersonnelUnblocked
from shared.db import on_commit
from shared.ids import new_id
from shared.service import Runtime


async def active_blocks(session: AsyncSession, *, nip: str) -> Sequence[Block]:
    """The NIP's active blocks, oldest first: one scan of ``ix_blocks_nip_active``."""
    query = select(Block).where(Block.nip == nip, Block.lifted_at.is_(None)).order_by(Block.blocked_at)
    return (await session.scalars(query)).all()


async def active_blocks_of(session: AsyncSession, *, nips: set[str]) -> dict[str, dt.datetime]:
    """For each of ``nips`` that is blocked: since when (its oldest active block)."""
    query = (select(Block.nip, func.min(Block.blocked_at)).where(Block.nip.in_(nips), Block.lifted_at.is_(None))
             .group_by(Block.nip))
    return {nip: since for nip, since in (await session.execute(query)).all()}


async def active_block_under(session: AsyncSession, key: str) -> Block | None:
    return await session.scalar(select(Block).where(Block.active_key == key))


async def place(
    session: AsyncSession,
    runtime: Runtime,
    *,
    nip: str,
    case_id: str | None,
    agency_code: str | None,
    cause: str,
    reason: str,
    blocked_by: str,
) -> Block:
    now = runtime.clock.now()
    block = Block(
        block_id=new_id(), nip=nip, case_id=case_id, agency_code=agency_code, cause=cause, reason=reason,
        blocked_at=now, blocked_by=blocked_by, active_key=domain.active_key(nip=nip, case_id=case_id),
    )
    session.add(block)
    await session.flush()  # the unique active_key refuses a second active block here, before staging
    index = runtime.extensions.get("block_index")
    if index is not None:  # this process answers from memory at once; other replicas learn it from the stream
        on_commit(session, lambda: index.put_row(block))
    await runtime.outbox.stage(
        session,
        PersonnelBlocked(block_id=block.block_id, nip=nip, case_id=case_id, agency_code=agency_code, cause=cause,
                         reason=reason, blocked_at=now),
        subject=domain.event_subject(nip=nip, case_id=case_id),
    )
    return block


async def lift(session: AsyncSession, runtime: Runtime, block: Block, *, cause: str, reason: str,
               lifted_by: str) -> None:
    now = runtime.clock.now()
    block.lifted_at, block.lift_cause, block.lift_reason, block.lifted_by = now, cause, reason, lifted_by
    block.active_key = None
    await session.flush()
    index = runtime.extensions.get("block_index")
    if index is not None:
        on_commit(session, lambda: index.remove(block_id=block.block_id, nip=block.nip))
    await runtime.outbox.stage(
        session,
        PersonnelUnblocked(block_id=block.block_id, nip=block.nip, case_id=block.case_id, cause=cause,
                           reason=reason, unblocked_at=now),
        subject=domain.event_subject(nip=block.nip, case_id=block.case_id),
    )


async def lock_agency(session: AsyncSession, runtime: Runtime, agency_code: str) -> AgencyWatch:
    """The agency's row, locked: two replicas counting the same agency's cases queue here, so neither
    misses the other's overdue case when deciding whether the threshold was crossed."""
    watch = await session.get(AgencyWatch, agency_code, with_for_update=True)
    if watch is None:
        watch = AgencyWatch(agency_code=agency_code, escalated=False, overdue_cases=0, updated_at=runtime.clock.now())
        session.add(watch)
        await session.flush()
    return watch


async def review_escalation(session: AsyncSession, runtime: Runtime, watch: AgencyWatch) -> Escalation | None:
    """Counts the agency's overdue, not-followed-up cases and raises an escalation on a crossing."""
    overdue = (
        await session.scalars(
            select(WatchedCase.case_id)
            .where(WatchedCase.agency_code == watch.agency_code, WatchedCase.overdue.is_(True))
            .order_by(WatchedCase.case_id)
        )
    ).all()
    threshold = runtime.settings.escalation_threshold
    decision = domain.decide_escalation(overdue_cases=len(overdue), threshold=threshold, escalated=watch.escalated)
    now = runtime.clock.now()
    watch.escalated, watch.overdue_cases, watch.updated_at = decision.escalated, len(overdue), now
    if not decision.raise_now:
        return None
    escalation = Escalation(escalation_id=new_id(), agency_code=watch.agency_code, overdue_case_ids=list(overdue),
                            threshold=threshold, raised_at=now)
    session.add(escalation)
    await runtime.outbox.stage(
        session,
        EscalationRaised(escalation_id=escalation.escalation_id, agency_code=watch.agency_code,
                         overdue_case_ids=list(overdue), threshold=threshold, raised_at=now),
        subject=f"agency:{watch.agency_code}",
    )
    return escalation


async def escalations(session: AsyncSession, *, agency_code: str | None, limit: int) -> Sequence[Escalation]:
    query = select(Escalation).order_by(Escalation.raised_at.desc(), Escalation.escalation_id.desc()).limit(limit)
    if agency_code:
        query = query.where(Escalation.agency_code == agency_code)
    return (await session.scalars(query)).all()


async def count_active(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Block).where(Block.lifted_at.is_(None))) or 0)


def since(blocks: Sequence[Block]) -> dt.datetime | None:
    return min((b.blocked_at for b in blocks), default=None)
