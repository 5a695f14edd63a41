"""The transactional outbox: events are written in the same transaction as the state they describe,
and a relay publishes them afterwards.

The relay, not the writer, chains each event to its producer's previous one (sequence and hash). Writers
therefore never contend on a chain head, and the chain follows the order in which events became visible.
Only one relay per service sends at a time: it holds a lease row, renewed with every batch.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable

import orjson
import structlog
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.bus import Bus
from shared.db import utcnow
from shared.events import GENESIS_HASH, Envelope, EventData, nats_subject
from shared.events.envelope import utc_now_text
from shared.ids import new_id
from shared.messaging.tables import MessagingTables
from shared.observability import current_traceparent

log = logging.getLogger("sbt.outbox")
event_log = structlog.get_logger("sbt.events")

LEASE_NAME = "outbox-relay"
LEASE_SECONDS = 10.0


class Outbox:
    """Stages events inside the caller's transaction."""

    def __init__(self, tables: MessagingTables, producer: str, clock: Callable[[], dt.datetime] = utcnow):
        self.tables = tables
        self.producer = producer
        self.clock = clock
        self.staged_since_wake = False

    async def stage(self, session: AsyncSession, data: EventData, *, subject: str) -> Envelope:
        if data.producer != self.producer:
            raise ValueError(f"{self.producer} may not produce {data.event_type}")
        now = self.clock()
        envelope = Envelope(
            id=new_id(),
            source=f"/sbt/{self.producer}",
            type=data.event_type,
            time=utc_now_text(now),
            subject=subject,
            traceparent=current_traceparent(),
            data=data.model_dump(mode="json"),
        )
        await session.execute(
            insert(self.tables.outbox).values(
                event_id=envelope.id,
                event_type=envelope.type,
                nats_subject=nats_subject(type(data)),
                envelope=envelope.model_dump_json(exclude_none=True),
                created_at=now,
            )
        )
        self.staged_since_wake = True
        metrics.EVENTS_STAGED.labels(envelope.type).inc()
        # Inside the request's trace: this line ties the request to the event id the consumers will log.
        event_log.info("event staged", event_type=envelope.type, event_id=envelope.id, case_id=subject)
        return envelope


class Relay:
    """Publishes committed outbox rows in producer order; woken on commit, swept on a timer."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        bus: Bus,
        producer: str,
        batch_size: int = 500,
        sweep_seconds: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.tables = tables
        self.bus = bus
        self.producer = producer
        self.batch_size = batch_size
        self.sweep_seconds = sweep_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{new_id()}"
        self._wake = asyncio.Event()
        self._stopped = False
        self.published = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while not self._stopped:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.sweep_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.drain()
            except Exception:  # noqa: BLE001 - the relay must outlive any single failure
                log.exception("outbox relay failed; retrying at the next sweep")

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    async def drain(self) -> int:
        """Send everything that is ready; returns how many events were acknowledged."""
        total = 0
        while self.bus.connected:
            sent, complete = await self._send_batch()
            total += sent
            if not complete or sent < self.batch_size:
                break
        return total

    async def backlog(self) -> tuple[int, dt.datetime | None]:
        outbox = self.tables.outbox
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.sent_at.is_(None))
                )
            ).one()
        return int(row[0]), row[1]

    async def _send_batch(self) -> tuple[int, bool]:
        outbox = self.tables.outbox
        async with self.sessions.begin() as session:
            if not await self._hold_lease(session):
                return 0, False
            await self._chain_new_rows(session)
            rows = (
                await session.execute(
                    select(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.nats_subject,
                           outbox.c.envelope)
                    .where(outbox.c.sent_at.is_(None), outbox.c.producerseq.is_not(None))
                    .order_by(outbox.c.producerseq)
                    .limit(self.batch_size)
                )
            ).all()
        if not rows:
            return 0, True
        acked = await self.bus.publish_many(
            [(row.nats_subject, row.envelope.encode(), row.event_id, _trace_headers(row.envelope)) for row in rows]
        )
        # Mark only the unbroken acknowledged prefix: what follows a failure is sent again, in order,
        # and JetStream's duplicate window drops the copies that had landed.
        prefix = next((i for i, ok in enumerate(acked) if not ok), len(rows))
        if prefix:
            async with self.sessions.begin() as session:
                await session.execute(
                    update(outbox)
                    .where(outbox.c.id.in_([row.id for row in rows[:prefix]]))
                    .values(sent_at=utcnow())
                )
        self.published += prefix
        for row in rows[:prefix]:
            metrics.EVENTS_PUBLISHED.labels(row.event_type).inc()
        return prefix, prefix == len(rows)

    async def _hold_lease(self, session: AsyncSession) -> bool:
        lease = self.tables.relay_lease
        now = utcnow()
        expires = now + dt.timedelta(seconds=LEASE_SECONDS)
        result = await session.execute(
            update(lease)
            .where(lease.c.name == LEASE_NAME)
            .where((lease.c.holder == self.holder) | (lease.c.expires_at < now))
            .values(holder=self.holder, expires_at=expires)
        )
        if result.rowcount == 1:
            return True
        exists = await session.scalar(select(lease.c.name).where(lease.c.name == LEASE_NAME))
        if exists is None:
            await session.execute(insert(lease).values(name=LEASE_NAME, holder=self.holder, expires_at=expires))
            return True
        return False

    async def _chain_new_rows(self, session: AsyncSession) -> None:
        outbox, head = self.tables.outbox, self.tables.producer_head
        rows = (
            await session.execute(
                select(outbox.c.id, outbox.c.envelope)
                .where(outbox.c.producerseq.is_(None))
                .order_by(outbox.c.id)
                .limit(self.batch_size)
            )
        ).all()
        if not rows:
            return
        current = (
            await session.execute(
                select(head.c.producerseq, head.c.hash).where(head.c.producer == self.producer).with_for_update()
            )
        ).one_or_none()
        seq, prev = (current.producerseq, current.hash) if current else (0, GENESIS_HASH)
        chained = []
        for row in rows:
            seq += 1
            envelope = Envelope.model_validate(orjson.loads(row.envelope)).chained(seq, prev)
            prev = envelope.hash
            chained.append({"row_id": row.id, "seq": seq, "doc": envelope.model_dump_json(exclude_none=True)})
        await session.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("row_id"))
            .values(producerseq=bindparam("seq"), envelope=bindparam("doc")),
            chained,
        )
        if current is None:
            await session.execute(insert(head).values(producer=self.producer, producerseq=seq, hash=prev))
        else:
            await session.execute(
                update(head).where(head.c.producer == self.producer).values(producerseq=seq, hash=prev)
            )


def _trace_headers(envelope_json: str) -> dict[str, str]:
    """The W3C ``traceparent`` as a NATS header too, so subscribers and tools outside SBT can follow the
    trace without parsing the envelope."""
    traceparent = orjson.loads(envelope_json).get("traceparent")
    return {"traceparent": traceparent} if traceparent else {}
