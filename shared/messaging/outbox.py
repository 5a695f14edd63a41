"""The transactional outbox: events are written in the same transaction as the state they describe,
and a relay publishes them afterwards.

The relay, not the writer, chains and signs each event to its producer's previous one (sequence and hash). Writers
therefore never contend on a chain head, and the chain follows the order in which events became visible.
Only one relay per service sends at a time: it holds a lease row, renewed with every batch and sweep and
released on an orderly stop; a relay that died is succeeded when its short lease runs out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.bus import Bus
from shared.db import utcnow
from shared.events import EVENT_MODELS, GENESIS_HASH, Envelope, EventData, nats_subject
from shared.events.envelope import Signer, canonical_bytes, utc_now_text
from shared.ids import new_id
from shared.messaging.tables import MessagingTables
from shared.observability import current_traceparent, trace_id_of

log = logging.getLogger("sbt.outbox")
event_log = structlog.get_logger("sbt.events")

LEASE_NAME = "outbox-relay"
LEASE_SECONDS = 3.0
COALESCE_SECONDS = 0.005


class Outbox:
    """Stages events inside the caller's transaction."""

    def __init__(self, tables: MessagingTables, producer: str, clock: Callable[[], dt.datetime] = utcnow):
        self.tables = tables
        self.producer = producer
        self.clock = clock
        self.staged_since_wake = False

    def envelope(self, data: EventData, *, subject: str, traceparent: str | None = None) -> Envelope:
        """The event's envelope, unchained (the relay chains it). Built in the request's own context, so
        that it carries the request's trace even when another task writes it (intake's group commit)."""
        if data.producer != self.producer:
            raise ValueError(f"{self.producer} may not produce {data.event_type}")
        return Envelope(
            id=new_id(),
            source=f"/sbt/{self.producer}",
            type=data.event_type,
            time=utc_now_text(self.clock()),
            subject=subject,
            traceparent=traceparent if traceparent is not None else current_traceparent(),
            data=data.model_dump(mode="json"),
        )

    async def stage(self, session: AsyncSession, data: EventData, *, subject: str) -> Envelope:
        envelope = self.envelope(data, subject=subject)
        await self.stage_envelopes(session, [envelope])
        return envelope

    async def stage_envelopes(self, session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        """Writes the envelopes to the outbox with one INSERT, in the caller's transaction."""
        if not envelopes:
            return
        now = self.clock()
        await session.execute(
            insert(self.tables.outbox),
            [
                {
                    "event_id": envelope.id,
                    "event_type": envelope.type,
                    "nats_subject": nats_subject(EVENT_MODELS[envelope.type]),
                    "envelope": envelope.model_dump_json(exclude_none=True),
                    "created_at": now,
                }
                for envelope in envelopes
            ],
        )
        self.staged_since_wake = True
        for envelope in envelopes:
            metrics.EVENTS_STAGED.labels(envelope.type).inc()
            # Carries the request's trace id: this line ties the request to the event id the consumers log.
            trace_id = trace_id_of(envelope.traceparent)
            event_log.info("event staged", event_type=envelope.type, event_id=envelope.id, case_id=envelope.subject,
                           **({"trace_id": trace_id} if trace_id else {}))


class Relay:
    """Publishes committed outbox rows in producer order; woken on commit, swept on a timer."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        bus: Bus,
        producer: str,
        signing_key: Signer | None,
        batch_size: int = 500,
        sweep_seconds: float = 1.0,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.lease_seconds = lease_seconds
        # Every event is signed as it is chained; None only where nothing may be trusted anyway (tests of
        # the chaining itself): consumers refuse unsigned events.
        self.signing_key = signing_key
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
            # Let the commits of the next few milliseconds gather: woken by every commit under load, the
            # relay would pay its fixed statements for a handful of events each time (and on SQLite hold
            # the one connection the writers need).
            await asyncio.sleep(COALESCE_SECONDS)

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    async def release_lease(self) -> None:
        """Give up the lease on an orderly stop, so that a successor (this service restarted, or another
        replica) sends at once instead of waiting for it to run out."""
        lease = self.tables.relay_lease
        async with self.sessions.begin() as session:
            await session.execute(
                update(lease)
                .where(lease.c.name == LEASE_NAME, lease.c.holder == self.holder)
                .values(expires_at=utcnow() - dt.timedelta(seconds=1))
            )

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
        async with self.sessions.begin() as session:
            if not await self._hold_lease(session):
                return 0, False
            # Rows chained earlier but not acknowledged (a failed publish, or a relay that died) go first;
            # then the rows chained now, published as they were just written, without reading them back.
            rows = await self._chained_unsent(session, self.batch_size)
            if len(rows) < self.batch_size:
                rows += await self._chain_new_rows(session, self.batch_size - len(rows))
        if not rows:
            return 0, True
        acked = await self.bus.publish_many(
            [(row.nats_subject, row.envelope.encode(), row.event_id, _trace_headers(row.traceparent)) for row in rows]
        )
        # Mark only the unbroken acknowledged prefix: what follows a failure is sent again, in order,
        # and JetStream's duplicate window drops the copies that had landed.
        prefix = next((i for i, ok in enumerate(acked) if not ok), len(rows))
        if prefix:
            outbox = self.tables.outbox
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

    async def _chained_unsent(self, session: AsyncSession, limit: int) -> list[_Ready]:
        outbox = self.tables.outbox
        rows = (
            await session.execute(
                select(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.nats_subject, outbox.c.envelope)
                .where(outbox.c.sent_at.is_(None), outbox.c.producerseq.is_not(None))
                .order_by(outbox.c.producerseq)
                .limit(limit)
            )
        ).all()
        return [
            _Ready(row.id, row.event_id, row.event_type, row.nats_subject, row.envelope,
                   orjson.loads(row.envelope).get("traceparent"))
            for row in rows
        ]

    async def _hold_lease(self, session: AsyncSession) -> bool:
        lease = self.tables.relay_lease
        now = utcnow()
        expires = now + dt.timedelta(seconds=self.lease_seconds)
        result = await session.execute(
            update(lease)
            .where(lease.c.name == LEASE_NAME)
            .where((lease.c.holder == self.holder) | (lease.c.expires_at < now))
            .values(holder=self.holder, expires_at=expires)
        )
        if getattr(result, "rowcount", 0) == 1:  # an UPDATE's CursorResult
            return True
        exists = await session.scalar(select(lease.c.name).where(lease.c.name == LEASE_NAME))
        if exists is None:
            await session.execute(insert(lease).values(name=LEASE_NAME, holder=self.holder, expires_at=expires))
            return True
        return False

    async def _chain_new_rows(self, session: AsyncSession, limit: int) -> list[_Ready]:
        """Give the oldest unchained rows the next producer sequence numbers and hashes; returns them ready
        to publish, in chain order. The producer's head row is locked, so replicas never fork the chain."""
        outbox, head = self.tables.outbox, self.tables.producer_head
        rows = (
            await session.execute(
                select(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.nats_subject, outbox.c.envelope)
                .where(outbox.c.producerseq.is_(None))
                .order_by(outbox.c.id)
                .limit(limit)
            )
        ).all()
        if not rows:
            return []
        current = (
            await session.execute(
                select(head.c.producerseq, head.c.hash).where(head.c.producer == self.producer).with_for_update()
            )
        ).one_or_none()
        seq, prev = (current.producerseq, current.hash) if current else (0, GENESIS_HASH)
        ready, chained = [], []
        for row in rows:
            seq += 1
            document = chain_document(orjson.loads(row.envelope), seq, prev, self.signing_key)
            prev = document["hash"]
            text = orjson.dumps(document).decode()
            chained.append({"row_id": row.id, "seq": seq, "doc": text})
            ready.append(_Ready(row.id, row.event_id, row.event_type, row.nats_subject, text,
                                document.get("traceparent")))
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
        return ready


@dataclass(frozen=True)
class _Ready:
    """An outbox row chained and ready to publish."""

    id: int
    event_id: str
    event_type: str
    nats_subject: str
    envelope: str
    traceparent: str | None


def chain_document(document: dict[str, Any], seq: int, prevhash: str, key: Signer | None = None) -> dict[str, Any]:
    """The envelope document (as stored: JSON without null members) linked into its producer's chain and
    signed with the producer's ``key``.

    The same result as ``Envelope.chained``, which every consumer checks, computed on the plain document:
    the relay chains every event a service produces, and going through the model costs more than the rest
    of the relay's work together.
    """
    document = {name: value for name, value in document.items()
                if name not in ("hash", "signature", "keyid") and value is not None}
    document["producerseq"] = seq
    document["prevhash"] = prevhash
    if key is not None:
        document["keyid"] = key.key_id
    message = canonical_json(document)
    document["hash"] = hashlib.sha256(message).hexdigest()
    if key is not None:
        document["signature"] = key.sign(message)
    return document


_SAFE_INTEGER = 2**53 - 1


def canonical_json(document: dict[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of ``document``.

    For the documents SBT produces (text, integers, booleans, nulls; keys in the Basic Multilingual Plane)
    orjson with sorted keys writes exactly the RFC 8785 form, about a hundred times faster than the
    reference implementation; anything else (a float, an integer beyond 2^53, a key outside the BMP,
    text orjson refuses) goes to the reference implementation.
    """
    if _plain(document):
        try:
            return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
    return canonical_bytes(document)


def _plain(value: object) -> bool:
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if isinstance(value, dict):
        return all(type(key) is str and (key.isascii() or max(key) <= "\uffff") and _plain(item)
                   for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return False  # a float, or anything orjson and RFC 8785 would write differently


def _trace_headers(traceparent: str | None) -> dict[str, str]:
    """The W3C ``traceparent`` as a NATS header too, so subscribers and tools outside SBT can follow the
    trace without parsing the envelope."""
    return {"traceparent": traceparent} if traceparent else {}
