"""The status service's projection of the blocking service's events: which blocks are active per NIP.

Keyed by block id and independent of order: an unblock that arrives before its block (replicas sharing
the consumer) leaves a lifted row that the late block only fills in, never reactivates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.status.models import PersonnelBlock
from shared.events import Envelope

BLOCKED = "sbt.personnel.blocked.v1"
UNBLOCKED = "sbt.personnel.unblocked.v1"


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def project(session: AsyncSession, envelope: Envelope) -> None:
    if envelope.type not in (BLOCKED, UNBLOCKED):
        return
    data = envelope.data
    row = await session.get(PersonnelBlock, data["block_id"], with_for_update=True)
    if row is None:
        row = PersonnelBlock(block_id=data["block_id"], nip=data["nip"], case_id=data.get("case_id"))
        session.add(row)
    if envelope.type == BLOCKED:
        row.agency_code = data.get("agency_code")
        row.cause, row.reason, row.blocked_at = data["cause"], data["reason"], _moment(data["blocked_at"])
    else:
        row.lifted_at, row.lift_cause, row.lift_reason = _moment(data["unblocked_at"]), data["cause"], data["reason"]
    await session.flush()


async def active(session: AsyncSession, *, nip: str) -> Sequence[PersonnelBlock]:
    query = (
        select(PersonnelBlock)
        .where(PersonnelBlock.nip == nip, PersonnelBlock.lifted_at.is_(None))
        .order_by(PersonnelBlock.blocked_at)
    )
    return (await session.scalars(query)).all()
