"""A per-client limit on authenticated writes, shared by every replica of a service.

Every POST, PUT, PATCH or DELETE that needs a token spends one unit of its client's budget
(``SBT_WRITE_RATE_PER_MINUTE``, refilled continuously, at most ``SBT_WRITE_BURST`` at once); past it, the
caller gets 429 with ``Retry-After`` and a problem body, and no other client is slowed down. The check sits
in ``shared.auth.require`` (and intake's filing hot path), so no write route can leave it out; reads, and
the bulk block check that is a read sent as POST, are not counted.

The budget lives in the service's own database, in the ``write_rate`` table (``write_rate_table`` in the
service's models, plus a migration), so replicas sharing the database share the budget: one row per client
holding GCRA's theoretical arrival time, moved forward by one atomic upsert that is refused by its own
WHERE clause when the budget is spent (on SQLite and PostgreSQL alike). Checks that arrive while one
transaction runs are made together in the next, one statement each, so a surge of filings costs a few
small transactions a second rather than one per request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Float, MetaData, String, Table, case, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import upsert_insert
from shared.problems import Problem
from shared.ratelimit import Decision

if TYPE_CHECKING:
    from shared.auth import Actor

log = logging.getLogger("sbt.write_limit")

TABLE_NAME = "write_rate"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MAX_BATCH = 256


def write_rate_table(metadata: MetaData) -> Table:
    return Table(
        TABLE_NAME,
        metadata,
        Column("client", String(200), primary_key=True),
        # Seconds since the epoch up to which the client's budget is spent (GCRA's theoretical arrival time).
        Column("tat", Float, nullable=False),
    )


def counts_as_write(method: str, permission: str) -> bool:
    return method in WRITE_METHODS and not permission.endswith(":read")


def client_key(actor: Actor) -> str:
    """The token's client: its ``client_id`` claim when it has one, else its subject."""
    return str(actor.claims.get("client_id") or actor.client_id)[:200]


class WriteLimiter:
    def __init__(
        self,
        table: Table,
        sessions: async_sessionmaker[AsyncSession],
        *,
        rate_per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate and burst must be positive")
        self.table = table
        self.sessions = sessions
        self.interval = 60.0 / rate_per_minute  # seconds one write costs
        self.tolerance = burst * self.interval  # how far ahead of now the budget may be spent
        self.clock = clock
        self._pending: list[tuple[str, asyncio.Future[Decision]]] = []
        self._drain: asyncio.Task[Any] | None = None

    async def spend(self, actor: Actor) -> None:
        """One write of ``actor``'s client; raises 429 with Retry-After when its budget is spent."""
        decision = await self.check(client_key(actor))
        if not decision.allowed:
            raise Problem(
                429,
                "too many requests",
                f"this client's write budget is spent; try again in {decision.retry_after} s",
                headers={"Retry-After": str(decision.retry_after)},
            )

    async def check(self, client: str) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._pending.append((client, future))
        if self._drain is None:
            self._drain = asyncio.create_task(self._run(), name="write-limit")
        return await future

    async def _run(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
                # In key order, so that two replicas' batches lock the rows they share in the same order.
                batch.sort(key=lambda item: item[0])
                try:
                    async with self.sessions.begin() as session:
                        now = self.clock()
                        decisions = [await self._decide(session, client, now) for client, _ in batch]
                except Exception as error:  # noqa: BLE001 - each waiting request answers with it
                    log.warning("write limit: could not check %d writes: %s", len(batch), error)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), decision in zip(batch, decisions):
                    if not future.done():
                        future.set_result(decision)
        finally:
            self._drain = None

    async def _decide(self, session: AsyncSession, client: str, now: float) -> Decision:
        table = self.table
        now_ = literal(now, Float)
        start = case((table.c.tat > now_, table.c.tat), else_=now_)
        statement = (
            upsert_insert(session, table)
            .values(client=client, tat=now + self.interval)
            .on_conflict_do_update(
                index_elements=[table.c.client],
                set_={"tat": start + self.interval},
                where=start + self.interval <= now + self.tolerance,
            )
            .returning(table.c.tat)
        )
        tat = (await session.execute(statement)).scalar_one_or_none()
        if tat is not None:
            return Decision(True, remaining=int((now + self.tolerance - tat) / self.interval + 1e-9))
        tat = (await session.execute(select(table.c.tat).where(table.c.client == client))).scalar_one()
        # Allowed again once max(tat, then) + interval <= then + tolerance.
        wait = tat + self.interval - self.tolerance - now
        return Decision(False, retry_after=max(1, math.ceil(wait - 1e-9)))
