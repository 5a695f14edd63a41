"""``sbt replay``: rebuild the status projection from the stream into fresh tables, and compare a state hash
with the live one.

The live database is read first, in one transaction: its consumer position and its state hash. The stream
is then replayed up to that very position through the status service's own handlers (ledger included),
committing per batch of hundreds of events, into a fresh database. Equal hashes mean the live projection is
exactly what the events give; a difference is named per table.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import orjson
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import create_engine, is_postgres, sessionmaker
from shared.events import EVENT_MODELS, Envelope
from shared.events.catalog import producer_of_subject
from shared.messaging.consumer import Consumer, Incoming, UntrustedEvent
from shared.settings import Settings

# Columns that record when this database did something, not what the events say.
VOLATILE_COLUMNS = frozenset({"updated_at", "created_at", "applied_at", "received_at"})
# Tables that are not a projection of the events: delivery bookkeeping, and checkpoints signed at times
# of the live service's choosing.
NOT_PROJECTIONS = frozenset({"outbox", "producer_head", "relay_lease", "inbox", "consumer_position",
                             "dead_letters", "ledger_checkpoints", "ledger_cosignatures", "ledger_parked",
                             "access_log"})


def projection_tables() -> list[Table]:
    from services.status.models import Base

    return [t for t in Base.metadata.sorted_tables if t.name not in NOT_PROJECTIONS]


async def state_hashes(session: AsyncSession) -> dict[str, str]:
    """SHA-256 per projection table over its rows in primary-key order (volatile columns left out)."""
    hashes = {}
    for table in projection_tables():
        columns = [c for c in table.columns if c.name not in VOLATILE_COLUMNS]
        digest = hashlib.sha256()
        result = await session.stream(select(*columns).order_by(*table.primary_key.columns))
        async for row in result:
            digest.update(orjson.dumps(list(row), default=str) + b"\n")
        hashes[str(table.name)] = digest.hexdigest()
    return hashes


def combined(hashes: dict[str, str]) -> str:
    return hashlib.sha256(orjson.dumps(hashes, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def live_snapshot(url: str) -> tuple[int, dict[str, str]]:
    """The live consumer position and state hashes, read in one consistent snapshot."""
    engine = create_engine(url)
    try:
        options = {"isolation_level": "REPEATABLE READ"} if is_postgres(engine) else {}
        async with sessionmaker(engine)() as session:  # one transaction, begun by the first statement
            await session.connection(execution_options=options)
            position = await session.scalar(
                select(_position_table().c.stream_seq).where(_position_table().c.consumer == "status")
            )
            return int(position or 0), await state_hashes(session)
    finally:
        await engine.dispose()


def _messaging():  # noqa: ANN202
    from services.status.models import messaging

    return messaging


def _position_table() -> Table:
    return _messaging().consumer_position


@dataclass
class ReplayResult:
    position: int
    applied: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    replayed: dict[str, str] = field(default_factory=dict)
    live: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0

    @property
    def differing(self) -> list[str]:
        return sorted(name for name in self.live if self.live[name] != self.replayed.get(name))


def _handlers(settings: Settings) -> dict:
    from services.status.app import SPEC

    # The status handlers need only what a runtime offers them here: its settings (the ledger's log id).
    return dict(SPEC.handlers(SimpleNamespace(settings=settings, name="status")))


async def replay(settings: Settings, *, live_url: str, into_url: str, batch_size: int = 500,
                 progress: Callable[[int, int], None] | None = None) -> ReplayResult:
    import asyncio

    import nats

    from shared.events.catalog import SUBJECT_PREFIX
    from shared.migrations import upgrade

    position, live = await live_snapshot(live_url)
    result = ReplayResult(position=position, live=live)
    await asyncio.to_thread(upgrade, "status", into_url)
    handlers = _handlers(settings)
    engine = create_engine(into_url)
    sessions = sessionmaker(engine)
    from shared.nats_login import connect_options
    from shared.nats_permissions import OPS_USER

    connection = await nats.connect(**connect_options(settings, OPS_USER))
    started = time.perf_counter()
    try:
        if position:
            js = connection.jetstream()
            subscription = await js.subscribe(f"{SUBJECT_PREFIX}.>", stream=settings.stream_name,
                                              ordered_consumer=True, pending_msgs_limit=100_000)
            # The live consumer's own admission rules (valid envelope and hash, source matching the subject).
            gate = Consumer(name="status", sessions=sessions, tables=_messaging(), bus=None, handlers=handlers)
            batch: list[tuple[int, Envelope]] = []
            seq = 0
            while seq < position:
                msg = await subscription.next_msg(timeout=10)
                seq = msg.metadata.sequence.stream
                try:
                    envelope, _ = gate.decode(msg)
                except UntrustedEvent as error:
                    if producer_of_subject(msg.subject) != "status":  # its own checkpoints are not leaves
                        result.skipped.append(f"stream {seq}: refused as the live consumer does: {error}")
                else:
                    batch.append((seq, envelope))
                if len(batch) >= batch_size or seq >= position:
                    await _apply_batch(sessions, handlers, batch, result)
                    batch = []
                    if progress:
                        progress(seq, position)
            await subscription.unsubscribe()
        result.seconds = time.perf_counter() - started
        async with sessions() as session:
            result.replayed = await state_hashes(session)
    finally:
        await connection.close()
        await engine.dispose()
    return result


async def _apply_batch(sessions, handlers: dict, batch: list[tuple[int, Envelope]], result: ReplayResult) -> None:  # noqa: ANN001
    if not batch:
        return
    try:  # the whole batch in one transaction, as the live consumer does
        async with sessions.begin() as session:
            for seq, envelope in batch:
                await _apply(session, handlers, seq, envelope)
        result.applied += len(batch)
        return
    except Exception:  # noqa: BLE001 - isolate the event the live service also refused
        pass
    for seq, envelope in batch:
        try:
            async with sessions.begin() as session:
                await _apply(session, handlers, seq, envelope)
            result.applied += 1
        except Exception as error:  # noqa: BLE001
            result.skipped.append(f"stream {seq}: {envelope.type} {envelope.id}: {type(error).__name__}: {error}")


async def _apply(session: AsyncSession, handlers: dict, seq: int, envelope: Envelope) -> None:
    data = EVENT_MODELS[envelope.type].model_validate(envelope.data)
    await handlers[envelope.type](session, Incoming(envelope, data, seq))
