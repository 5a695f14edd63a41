"""The blocks the blocking service announced, as the status service keeps them (services/status/projection.py
folds the block and unblock events): which are active per NIP."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.status.models import PersonnelBlock


async def active(session: AsyncSession, *, nip: str) -> Sequence[PersonnelBlock]:
    query = (
        select(PersonnelBlock)
        .where(PersonnelBlock.nip == nip, PersonnelBlock.lifted_at.is_(None))
        .order_by(PersonnelBlock.blocked_at)
    )
    return (await session.scalars(query)).all()
