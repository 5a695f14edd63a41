"""The idempotent consumer: a durable, explicit-ack JetStream pull consumer whose effects and whose
record of applied event ids commit in one transaction.

Events are applied a batch at a time: what one fetch brings (up to ``batch_size``), in stream order, in one
transaction with their inbox rows and the consumer's position, then acked together. A service whose
handlers can take a whole batch at once (``BatchHandlers``: the status service's projection and ledger) is
given the batch; the others' handlers are called event by event inside the same transaction.

A redelivered event is found in the inbox, acked and skipped. If a batch fails, its events are applied again
one per transaction, so that one bad event does not hold back the others. An event that keeps failing is
moved to the dead-letter table (with the error) after ``max_deliver`` attempts, and acked: it is never
silently lost, and operators can list and replay it.

What a consumer has been given but not acknowledged comes back after ``ack_wait`` (settings.redelivery_seconds):
short, so that a crashed consumer's batch returns within seconds. While a batch is being applied the consumer
says it is still at work (``in_progress``) so that a long batch is not redelivered under it, and on an orderly
stop it gives back (``nak``) what it has not finished, for its successor at once. An event that cannot be trusted (bad envelope, hash
mismatch, no valid signature by a pinned key of its producer, or a ``source`` that is not the producer in
its subject) is dead-lettered at once and counted (``sbt_events_refused_total``): it is never applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import nats.errors
import orjson
import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from pydantic import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.bus import Bus
from shared.db import insert_ignoring_duplicates, upsert_insert, utcnow
from shared.events import EVENT_MODELS, Envelope, EventData, nats_subject, producer_of_subject
from shared.events.signing import ProducerKeys
from shared.ledger.chain import authenticate
from shared.messaging.tables import MessagingTables
from shared.observability import continue_trace, trace_id_of

log = logging.getLogger("sbt.consumer")
# One line per applied event, carrying the event's own trace id (see shared/observability.py).
event_log = structlog.get_logger("sbt.events")



Data = TypeVar("Data", bound=EventData, covariant=True)


@dataclass(frozen=True)
class Incoming(Generic[Data]):
    """One event as a handler sees it: the envelope, its data validated as its own event model (a handler of
    ``FollowupOverdue`` takes an ``Incoming[FollowupOverdue]``) and its place in the stream."""

    envelope: Envelope
    data: Data
    stream_seq: int
    # The message as it came off the stream, for a consumer that passes the producer's envelope on unchanged.
    raw: bytes | None = None


Handler = Callable[[AsyncSession, Incoming[Any]], Awaitable[None]]
# What a service consumes: each event model it handles, and its handler. Keyed by the models, not by type
# strings, so a handler table names only events that exist and reads like the contracts.
HandlerTable = Mapping[type[EventData], Handler]
BatchHandler = Callable[[AsyncSession, list[Incoming[Any]]], Awaitable[None]]
Prepare = Callable[[AsyncSession], Awaitable[None]]

# Inbox rows per statement: far below any database's limit on bound parameters.
_INBOX_CHUNK = 500
# Each event type's subject, made once rather than for every message checked against it.
_SUBJECTS = {event_type: nats_subject(model) for event_type, model in EVENT_MODELS.items()}


class BatchHandlers(Mapping[type[EventData], Handler]):
    """Handlers that apply a whole batch of events at once, in stream order, in the caller's transaction.

    Still a mapping of event type to handler, so the consumer subscribes to and admits exactly these types,
    and whatever applies a single event (an operator replaying a dead letter) applies it as a batch of one.
    ``prepare`` runs first in every transaction, before the inbox is read: a lock taken there makes replicas
    sharing the consumer see each other's committed batches. ``stages_events``: whether applying may stage
    events of the service's own; only then is the outbox relay woken after each batch (a relay that wakes
    for nothing takes the database from the next batch).
    """

    def __init__(self, event_models: Iterable[type[EventData]], apply: BatchHandler, *,
                 prepare: Prepare | None = None, stages_events: bool = True) -> None:
        self.event_models = frozenset(event_models)
        self.apply = apply
        self.prepare = prepare
        self.stages_events = stages_events

    def __getitem__(self, model: type[EventData]) -> Handler:
        if model not in self.event_models:
            raise KeyError(model)
        return self._apply_one

    def __iter__(self) -> Iterator[type[EventData]]:
        return iter(sorted(self.event_models, key=lambda model: model.event_type))

    def __len__(self) -> int:
        return len(self.event_models)

    async def _apply_one(self, session: AsyncSession, event: Incoming[Any]) -> None:
        if self.prepare is not None:
            await self.prepare(session)
        await self.apply(session, [event])


class UntrustedEvent(Exception):
    """The message is not a valid event of the producer its subject names; retrying cannot help."""


@dataclass
class Delivery:
    msg: Msg
    stream_seq: int
    attempts: int


@dataclass(frozen=True)
class Admitted:
    """A delivery whose event passed the consumer's admission checks."""

    delivery: Delivery
    envelope: Envelope
    data: EventData


class Consumer:
    def __init__(
        self,
        *,
        name: str,
        sessions: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        bus: Bus,
        handlers: HandlerTable,
        batch_size: int = 256,
        max_deliver: int = 5,
        retry_delay: float = 0.5,
        ack_wait: float = 5.0,
        keys: ProducerKeys,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        unknown = [model for model in handlers if EVENT_MODELS.get(model.event_type) is not model]
        if unknown:
            raise ValueError(f"handlers for unknown event models: {unknown}")
        self.name = name
        self.keys = keys  # the pinned producer keys every event's signature is checked against
        self.sessions = sessions
        self.tables = tables
        self.bus = bus
        # On the wire an event names its type; the table is looked up by that name.
        self.handlers: dict[str, Handler] = {model.event_type: handler for model, handler in handlers.items()}
        if isinstance(handlers, BatchHandlers):
            self._apply_batch, self._prepare = handlers.apply, handlers.prepare
            if not handlers.stages_events:
                after_commit = None
        else:
            self._apply_batch, self._prepare = self._apply_each, None
        self.batch_size = batch_size
        self.max_deliver = max_deliver
        self.retry_delay = retry_delay
        self.ack_wait = ack_wait
        self.after_commit = after_commit
        self._stopped = False
        self.applied = 0
        self.dead_lettered = 0
        self.redelivered = 0

    @property
    def filter_subjects(self) -> list[str]:
        return sorted(nats_subject(EVENT_MODELS[event_type]) for event_type in self.handlers)

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        js, stream = self.bus.jetstream, self.bus.settings.stream_name
        config = ConsumerConfig(
            durable_name=self.name,
            name=self.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subjects=self.filter_subjects,
            ack_wait=self.ack_wait,
            max_ack_pending=20_000,
        )
        # Create-or-update by name (CONSUMER.CREATE.<stream>.<name>): a service that learned new event types
        # widens its own durable's filter in place.
        await js.add_consumer(stream, config=config)
        return await js.pull_subscribe_bind(durable=self.name, stream=stream)

    async def run(self) -> None:
        subscription: JetStreamContext.PullSubscription | None = None
        while not self._stopped:
            try:
                if subscription is None:
                    if not self.bus.connected:
                        await asyncio.sleep(0.2)
                        continue
                    await self.bus.ensure_stream()
                    subscription = await self._subscribe()
                try:
                    msgs = await self._next_batch(subscription)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                await self.process(msgs)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep consuming; the bus may be restarting
                log.exception("consumer %s: fetch failed, resubscribing", self.name)
                subscription = None
                await asyncio.sleep(0.5)

    def stop(self) -> None:
        self._stopped = True

    async def _next_batch(self, subscription: JetStreamContext.PullSubscription) -> list[Msg]:
        """Up to a batch of what is waiting, as soon as there is anything at all.

        The pull request asks for a whole batch without holding it back: the server answers at once with the
        messages already waiting, or with the first one to arrive, so a quiet moment costs an event no wait
        and a backlog is taken ``batch_size`` at a time.
        """
        msgs: list[Msg] = await subscription.fetch(self.batch_size, timeout=1.0)
        return msgs

    async def process(self, msgs: list[Msg]) -> None:
        heartbeat = asyncio.create_task(self._still_at_work(msgs))
        try:
            await self._process(msgs)
        except asyncio.CancelledError:
            await self._give_back(msgs)
            raise
        finally:
            heartbeat.cancel()

    async def _still_at_work(self, msgs: list[Msg]) -> None:
        """Renew the deliveries' ack_wait while they are applied: a short ack_wait brings a crashed
        consumer's batch back soon, and must not bring back a batch that is merely slow."""
        while True:
            await asyncio.sleep(self.ack_wait / 3)
            for msg in msgs:
                if not msg.is_acked:
                    with contextlib.suppress(Exception):  # the next beat, or the redelivery, covers it
                        await msg.in_progress()

    async def _give_back(self, msgs: list[Msg]) -> None:
        """On an orderly stop: what was not acknowledged is redelivered now, not after ack_wait (what had
        committed is found in the inbox and skipped)."""
        for msg in msgs:
            if not msg.is_acked:
                with contextlib.suppress(Exception):
                    await msg.nak()

    async def _process(self, msgs: list[Msg]) -> None:
        deliveries = sorted((Delivery(m, m.metadata.sequence.stream, m.metadata.num_delivered) for m in msgs),
                            key=lambda delivery: delivery.stream_seq)
        for delivery in deliveries:
            if delivery.attempts > 1:
                metrics.EVENTS_REDELIVERED.labels(metrics.event_type_of_subject(delivery.msg.subject)).inc()
        admitted: list[Admitted] = []
        for delivery in deliveries:
            try:
                admitted.append(Admitted(delivery, *self.decode(delivery.msg)))
            except UntrustedEvent as error:  # retrying cannot help, and it must not fail the others
                await self._dead_letter(delivery, error)
        if not admitted:
            return
        # Fast path: the whole batch in one transaction.
        try:
            async with self.sessions.begin() as session:
                applied = await self._apply_all(session, admitted)
                await self._advance_position(session, [a.delivery for a in admitted])
        except Exception as error:  # noqa: BLE001 - fall back to one event per transaction to isolate the bad one
            if len(admitted) > 1:
                log.info("consumer %s: a batch of %d failed (%s); applying its events one by one", self.name,
                         len(admitted), error)
            await self._process_one_by_one(admitted)
            return
        self._committed()
        self.observe([a.delivery for a in admitted], applied)
        for item in admitted:
            await item.delivery.msg.ack()

    async def _process_one_by_one(self, admitted: list[Admitted]) -> None:
        for item in admitted:
            delivery = item.delivery
            try:
                async with self.sessions.begin() as session:
                    (applied,) = await self._apply_all(session, [item])
                    await self._advance_position(session, [delivery])
            except Exception as error:  # noqa: BLE001
                if isinstance(error, IntegrityError) and await self._already_applied(delivery):
                    # A replica sharing this consumer applied it first (a redelivery raced the first
                    # delivery): nothing to do but acknowledge.
                    await delivery.msg.ack()
                    continue
                if delivery.attempts >= self.max_deliver:
                    await self._dead_letter(delivery, error)
                else:
                    log.warning("consumer %s: event at %s failed (%s), will retry", self.name,
                                delivery.stream_seq, error)
                    self.redelivered += 1
                    await delivery.msg.nak(delay=self.retry_delay)
                continue
            self._committed()
            self.observe([delivery], [applied])
            await delivery.msg.ack()

    async def _already_applied(self, delivery: Delivery) -> bool:
        try:
            event_id = orjson.loads(delivery.msg.data).get("id")
        except Exception:  # noqa: BLE001
            return False
        inbox = self.tables.inbox
        async with self.sessions() as session:
            seen = await session.scalar(
                select(inbox.c.event_id).where(inbox.c.consumer == self.name, inbox.c.event_id == event_id)
            )
        return seen is not None

    def _committed(self) -> None:
        if self.after_commit is not None:
            self.after_commit()

    def observe(self, deliveries: list[Delivery], applied: list[Envelope | None]) -> None:
        """Count and log what a transaction that has just committed applied (or skipped as a duplicate)."""
        for delivery, envelope in zip(deliveries, applied, strict=True):
            if envelope is None:
                metrics.EVENTS_DUPLICATE.labels(metrics.event_type_of_subject(delivery.msg.subject)).inc()
                continue
            metrics.EVENTS_CONSUMED.labels(envelope.type).inc()
            event_log.info(
                "event applied", consumer=self.name, event_type=envelope.type, event_id=envelope.id,
                case_id=envelope.subject, stream_seq=delivery.stream_seq, attempts=delivery.attempts,
                trace_id=trace_id_of(envelope.traceparent),
            )

    async def _apply(self, session: AsyncSession, delivery: Delivery) -> Envelope | None:
        """Apply one delivery in ``session``; returns its envelope, or None when it had been applied before."""
        (applied,) = await self._apply_all(session, [Admitted(delivery, *self.decode(delivery.msg))])
        return applied

    async def _apply_all(self, session: AsyncSession, admitted: list[Admitted]) -> list[Envelope | None]:
        """Apply admitted events (in stream order) in ``session``, with their inbox rows; per event, its
        envelope, or None when it had been applied before (or comes twice in this batch)."""
        if self._prepare is not None:
            await self._prepare(session)
        claimed = await self._claim(session, admitted)
        results: list[Envelope | None] = []
        fresh: list[Admitted] = []
        for item in admitted:
            if item.envelope.id in claimed:
                claimed.discard(item.envelope.id)  # a second copy in this batch is a duplicate
                fresh.append(item)
                results.append(item.envelope)
            else:
                results.append(None)
        if fresh:
            await self._apply_batch(session, [Incoming(i.envelope, i.data, i.delivery.stream_seq, i.delivery.msg.data)
                                              for i in fresh])
            self.applied += len(fresh)
        return results

    async def _claim(self, session: AsyncSession, admitted: list[Admitted]) -> set[str]:
        """Write the inbox rows of ``admitted`` where the inbox does not hold their event yet; returns the ids
        written, which this transaction then applies (``applied_at``: when it began to).

        The inbox's unique key decides, not a query: a lookup of hundreds of ids is planned from table
        statistics, which lag behind a fast-growing inbox (and a replica sharing this consumer that claims the
        same event first makes this INSERT wait for its commit, then skip the event)."""
        rows, seen = [], set()
        applied_at = utcnow()
        for item in admitted:
            if item.envelope.id not in seen:
                seen.add(item.envelope.id)
                rows.append({"consumer": self.name, "event_id": item.envelope.id,
                             "stream_seq": item.delivery.stream_seq, "applied_at": applied_at})
        inbox = self.tables.inbox
        statement = upsert_insert(session, inbox).on_conflict_do_nothing().returning(inbox.c.event_id)
        claimed: set[str] = set()
        for start in range(0, len(rows), _INBOX_CHUNK):
            claimed.update((await session.execute(statement, rows[start:start + _INBOX_CHUNK])).scalars())
        return claimed

    async def _apply_each(self, session: AsyncSession, events: list[Incoming[Any]]) -> None:
        """The batch handler of a service whose handlers take one event at a time."""
        for event in events:
            continue_trace(event.envelope.traceparent)
            await self.handlers[event.envelope.type](session, event)

    def decode(self, msg: Msg) -> tuple[Envelope, EventData]:
        try:
            envelope = Envelope.model_validate(orjson.loads(msg.data))
        except (ValidationError, orjson.JSONDecodeError) as error:
            raise UntrustedEvent(f"not a valid envelope: {error}") from None
        producer, subject_producer = envelope.producer, producer_of_subject(msg.subject)
        if producer != subject_producer:
            raise UntrustedEvent(
                f"source {envelope.source} does not match the producer '{subject_producer}' of {msg.subject}"
            )
        model = EVENT_MODELS.get(envelope.type)
        if model is None or model.producer != producer or _SUBJECTS[envelope.type] != msg.subject:
            raise UntrustedEvent(f"{envelope.type} is not an event {producer} publishes on {msg.subject}")
        refusal = authenticate(envelope, self.keys)
        if refusal is not None:
            metrics.EVENTS_REFUSED.labels(producer).inc()
            raise UntrustedEvent(f"event {envelope.id} ({producer} #{envelope.producerseq}) {refusal}")
        if envelope.type not in self.handlers:
            raise UntrustedEvent(f"{self.name} has no handler for {envelope.type}")
        try:
            data = model.model_validate(envelope.data)
        except ValidationError as error:
            raise UntrustedEvent(f"data does not match {envelope.type}: {error}") from None
        return envelope, data

    async def _advance_position(self, session: AsyncSession, deliveries: list[Delivery]) -> None:
        # Atomic "only forward": replicas sharing this consumer commit batches in any order.
        position = self.tables.consumer_position
        highest = max(d.stream_seq for d in deliveries)
        result = await session.execute(
            update(position)
            .where(position.c.consumer == self.name, position.c.stream_seq < highest)
            .values(stream_seq=highest, updated_at=utcnow())
        )
        if getattr(result, "rowcount", 0) == 0:  # an UPDATE's CursorResult
            await insert_ignoring_duplicates(
                session, position, {"consumer": self.name, "stream_seq": highest, "updated_at": utcnow()}
            )

    async def _dead_letter(self, delivery: Delivery, error: Exception) -> None:
        msg = delivery.msg
        event_id = event_type = None
        try:
            document = orjson.loads(msg.data)
            event_id, event_type = str(document.get("id"))[:40], str(document.get("type"))[:80]
        except Exception:  # noqa: BLE001 - an unreadable payload is dead-lettered as it is
            pass
        async with self.sessions.begin() as session:
            await session.execute(
                insert(self.tables.dead_letters).values(
                    consumer=self.name,
                    event_id=event_id,
                    event_type=event_type,
                    nats_subject=msg.subject,
                    stream_seq=delivery.stream_seq,
                    payload=msg.data.decode("utf-8", errors="replace"),
                    error=f"{type(error).__name__}: {error}"[:4000],
                    attempts=delivery.attempts,
                    created_at=utcnow(),
                )
            )
        self.dead_lettered += 1
        metrics.EVENTS_DEAD_LETTERED.labels(metrics.event_type_label(event_type)).inc()
        log.error("consumer %s: dead-lettered event at %s: %s", self.name, delivery.stream_seq, error)
        await msg.ack()
