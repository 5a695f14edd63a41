"""BKN's blocks and lifts by hand, each one unit of work: the block (or the lift), its event and its audit
columns commit together, or nothing does. The routes only parse, authorise and call these."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from services.blocking import blocks, domain
from services.blocking.models import Block, WatchedCase
from services.blocking.schemas import ManualBlockIn, ManualUnblockIn
from shared.auth import Actor
from shared.problems import Problem
from shared.service import Runtime


async def block(*, runtime: Runtime, nip: str, request: ManualBlockIn, actor: Actor) -> Block:
    key = domain.active_key(nip=nip, case_id=request.case_id)
    try:
        async with runtime.transaction() as session:
            existing = await blocks.active_block_under(session, key)
            if existing is not None:
                raise Problem(409, "already blocked", f"block {existing.block_id} is active under {key}")
            agency_code = request.agency_code
            if request.case_id and agency_code is None:
                known = await session.get(WatchedCase, request.case_id)
                agency_code = known.agency_code if known is not None else None
            return await blocks.place(
                session, runtime, nip=nip, case_id=request.case_id, agency_code=agency_code, cause="manual",
                reason=request.reason, blocked_by=actor.client_id,
            )
    except IntegrityError:  # a concurrent block under the same key committed first
        raise Problem(409, "already blocked", f"a block is already active under {key}") from None


async def lift(*, runtime: Runtime, nip: str, request: ManualUnblockIn, actor: Actor) -> tuple[list[Block], int]:
    """The blocks lifted, and how many were active before."""
    async with runtime.transaction() as session:
        active = list(await blocks.active_blocks(session, nip=nip))
        if request.block_id is not None:
            chosen = [b for b in active if b.block_id == request.block_id]
            if not chosen:
                known = await session.get(Block, request.block_id)
                if known is None or known.nip != nip:
                    raise Problem(404, "not found", f"no block {request.block_id} for NIP {nip}")
                raise Problem(409, "already lifted", f"block {request.block_id} was lifted at {known.lifted_at}")
        else:
            chosen = active
            if not chosen:
                raise Problem(409, "not blocked", f"NIP {nip} has no active block")
        for chosen_block in chosen:
            await blocks.lift(session, runtime, chosen_block, cause="manual", reason=request.reason,
                              lifted_by=actor.client_id)
    return chosen, len(active)
