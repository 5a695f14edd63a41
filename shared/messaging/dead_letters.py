"""How many dead letters wait for an operator: read by the ops endpoints and by the metrics alike, so
neither needs the other."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.messaging.tables import MessagingTables


async def open_dead_letter_count(sessions: async_sessionmaker[AsyncSession], tables: MessagingTables) -> int:
    table = tables.dead_letters
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).where(table.c.replayed_at.is_(None))) or 0)
