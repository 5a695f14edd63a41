"""``sbt replay``: rebuild the status projection from the stream into fresh tables, and compare a state hash
with the live one.

The live database is read first, in one transaction: its consumer position and its state hash. The stream
is then replayed up to that very position, into a fresh database, through the status service's own
admission rules and its own applier (services/status/applying.py: chain checks, ledger, read model). No one
else writes the fresh tables, so the applier keeps the ledger, the chain heads and the cases in memory for
the whole run, folds every event there with the shared pure ``apply``, and writes what changed once per
batch of hundreds to thousands of events, in one transaction. Equal hashes mean the live projection is
exactly what the events give; a difference is named per table.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.db import create_engine, is_postgres, sessionmaker
from shared.events import Envelope
from shared.events.catalog import producer_of_subject
from shared.messaging.consumer import Consumer, UntrustedEvent
from shared.settings import Settings

# Columns that record when this database did something, not what the events say.
VOLATILE_COLUMNS = frozenset({"updated_at", "created_at", "applied_at", "received_at"})
# How long the stream may stay silent before the live position is reached.
STREAM_SILENCE_SECONDS = 10.0
# Events folded between two turns of the event loop, in which the batch before is written.
YIELD_EVERY = 32
# Case statuses a replay keeps in memory between batches; beyond it they are read back from the fresh tables.
CASES_KEPT = 100_000
# Tables that are not a projection of the events: delivery bookkeeping, checkpoints signed at times of the
# live service's choosing, who called, the clients' write budgets, and forks (found at the time they arrived
# and resolved by an operator, which no replay can repeat).
NOT_PROJECTIONS = frozenset({"outbox", "producer_head", "relay_lease", "inbox", "consumer_position",
                             "dead_letters", "ledger_checkpoints", "ledger_cosignatures", "ledger_parked",
                             "ledger_forks", "access_log", "write_rate"})


def projection_tables() -> list[Table]:
    from services.status.models import Base

    return [t for t in Base.metadata.sorted_tables if t.name not in NOT_PROJECTIONS]


async def state_hashes(session: AsyncSession) -> dict[str, str]:
    """SHA-256 per projection table over its rows in primary-key order (volatile columns left out)."""
    # Read in the session's own thread of control, a partition at a time: awaiting row by row would cost a
    # context switch per row, and the tables hold millions.
    return await session.run_sync(_state_hashes)


def _state_hashes(session: Session) -> dict[str, str]:
    hashes = {}
    for table in projection_tables():
        columns = [c for c in table.columns if c.name not in VOLATILE_COLUMNS]
        digest = hashlib.sha256()
        result = session.execute(select(*columns).order_by(*table.primary_key.columns),
                                 execution_options={"yield_per": 10_000})
        for rows in result.partitions():
            digest.update(b"".join([orjson.dumps(list(row), default=str) + b"\n" for row in rows]))
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


async def replay(settings: Settings, *, live_url: str, into_url: str, batch_size: int = 500,
                 progress: Callable[[int, int], None] | None = None, cases_kept: int = CASES_KEPT) -> ReplayResult:
    """``cases_kept``: case statuses kept in memory between batches (beyond, they are read back)."""
    from services.cli.support import connect_ops
    from services.status.ledger.store import Ledger
    from services.status.models import ledger as ledger_tables
    from shared.migrations import upgrade

    position, live = await live_snapshot(live_url)
    result = ReplayResult(position=position, live=live)
    await asyncio.to_thread(upgrade, "status", into_url)
    ledger = Ledger(ledger_tables, log_id=settings.ledger_log_id)
    engine = create_engine(into_url)
    sessions = sessionmaker(engine)
    # As the operator, the way `make run` writes its login (or SBT_NATS_USER): the stream is read with an
    # ephemeral consumer, which only the ops user may make.
    connection = await connect_ops(settings)
    started = time.perf_counter()
    try:
        if position:
            # Reading and admitting the next batch goes on while this one is written: the database does its
            # part of a write in its own thread.
            batches: asyncio.Queue = asyncio.Queue(maxsize=2)
            reader = asyncio.create_task(_read(connection, settings, ledger, position, batch_size, batches, result))
            run = _Run(sessions, ledger, result, cases_kept)
            try:
                with _collecting_rarely():
                    while (item := await batches.get()) is not None:
                        reached, batch = item
                        await run.apply(batch)
                        if progress:
                            progress(reached, position)
                    await run.writer.wait()
                await reader  # raises what stopped the reading, if anything did
            finally:
                reader.cancel()
                await run.writer.abandon()
        result.seconds = time.perf_counter() - started
        async with sessions() as session:
            result.replayed = await state_hashes(session)
    finally:
        await connection.close()
        await engine.dispose()
    return result


async def _read(connection, settings: Settings, ledger, position: int, batch_size: int,  # noqa: ANN001
                batches, result: ReplayResult) -> None:  # noqa: ANN001 - an asyncio.Queue
    """Put (stream position reached, admitted events) on ``batches`` up to ``position``, then None."""
    from services.status.handlers import handlers
    from services.cli.stream_reader import StreamReader
    from shared.events.catalog import SUBJECT_PREFIX

    from shared.events.signing import producer_keys_from_settings

    # The live consumer's own admission rules (valid envelope, hash and producer signature, source matching
    # the subject).
    gate = Consumer(name="status", sessions=None, tables=_messaging(), bus=None, handlers=handlers(ledger),
                    keys=producer_keys_from_settings(settings))
    reader = StreamReader(connection, settings.stream_name, subjects=f"{SUBJECT_PREFIX}.>", batch=batch_size,
                          silence_seconds=STREAM_SILENCE_SECONDS)
    try:
        async for msgs in reader.read(until=position):
            batch: list[tuple[int, Envelope]] = []
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                try:
                    envelope, _ = gate.decode(msg)
                except UntrustedEvent as error:
                    if producer_of_subject(msg.subject) != "status":  # its own checkpoints are not leaves
                        result.skipped.append(f"stream {seq}: refused as the live consumer does: {error}")
                else:
                    batch.append((seq, envelope))
            await batches.put((seq, batch))
    finally:
        await batches.put(None)


@contextlib.contextmanager
def _collecting_rarely() -> Iterator[None]:
    """A replay makes millions of short-lived objects while it keeps a growing set of case statuses: with
    the default thresholds the cyclic garbage collector would scan that set again and again, for nothing
    (statuses hold no cycles). What exists before the run is set aside, and collections come less often."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class _Writer:
    """Runs collected writes in a transaction of their own, one batch after the other, in the background:
    while the database commits one batch, the next is folded in memory."""

    def __init__(self, sessions) -> None:  # noqa: ANN001 - an async_sessionmaker
        self.sessions = sessions
        self._task: asyncio.Task | None = None

    async def wait(self) -> None:
        """Until what was submitted is committed (raising what made it fail)."""
        task, self._task = self._task, None
        if task is not None:
            await task

    async def submit(self, writes: list) -> None:
        await self.wait()
        self._task = asyncio.create_task(self._write(writes))

    async def abandon(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def _write(self, writes: list) -> None:
        async with self.sessions.begin() as session:
            for write in writes:
                await write(session)


class _Run:
    """One replay's applier over the fresh tables, kept in memory from batch to batch, and what it decided."""

    def __init__(self, sessions, ledger, result: ReplayResult, cases_kept: int) -> None:  # noqa: ANN001
        from services.status.applying import Applier

        self.sessions, self.ledger, self.result, self.cases_kept = sessions, ledger, result, cases_kept
        self.writer = _Writer(sessions)
        # Reads (a case dropped from memory, a refold) wait for what was collected to be committed.
        self.applier = Applier.fresh(ledger, max_cases_kept=cases_kept, before_read=self.writer.wait)
        self.in_memory = True  # until a fall-back: then the applier reads the database like the live one
        # Event ids applied, as the live consumer's inbox holds them: an id seen again is skipped, as there.
        self.seen: set[str] = set()

    async def apply(self, batch: list[tuple[int, Envelope]]) -> None:
        """Fold ``batch`` in memory and hand its writes to the writer; an event the live service refused
        sends the batch down the live consumer's fall-back, one event per transaction."""
        fresh: list[tuple[int, Envelope]] = []
        ids: set[str] = set()
        for seq, envelope in batch:
            if envelope.id in self.seen or envelope.id in ids:
                self.result.skipped.append(f"stream {seq}: {envelope.type} {envelope.id}: already applied (its id "
                                           "came before), as the live consumer's inbox says")
                continue
            ids.add(envelope.id)
            fresh.append((seq, envelope))
        if not fresh:
            return
        if not self.in_memory:
            await self.writer.wait()  # an applier that reads the database reads what is committed
        try:
            async with self.sessions() as session:  # used only to read what is not in memory
                await self.applier.load(session, [envelope for _, envelope in fresh])
                for count, (seq, envelope) in enumerate(fresh):
                    await self.applier.apply(session, envelope, seq, hash_checked=True)  # the gate checked hashes
                    if count % YIELD_EVERY == 0:
                        await asyncio.sleep(0)  # the writer's statements go on between the events
            writes = self.applier.collect()
        except Exception:  # noqa: BLE001 - isolate the event the live service also refused
            await self._one_by_one(fresh)
            return
        await self.writer.submit(writes)
        self.seen |= ids
        self.result.applied += len(fresh)

    async def _one_by_one(self, batch: list[tuple[int, Envelope]]) -> None:
        """What the applier held in memory is no longer what the batch leaves: each event now reads what it
        needs from the database, in a transaction of its own, and the run goes on from what is stored."""
        from services.status.applying import Applier, ParkedEvents
        from services.status.projection import Projection

        await self.writer.wait()
        for seq, envelope in batch:
            try:
                async with self.sessions.begin() as session:
                    applier = await Applier.begin(session, self.ledger, [envelope])
                    await applier.apply(session, envelope, seq, hash_checked=True)
                    await applier.flush(session)
                self.seen.add(envelope.id)
                self.result.applied += 1
            except Exception as error:  # noqa: BLE001
                self.result.skipped.append(f"stream {seq}: {envelope.type} {envelope.id}: {type(error).__name__}: {error}")
        async with self.sessions.begin() as session:
            self.applier = Applier(await self.ledger.appender(session), ParkedEvents(self.ledger.tables),
                                   Projection(max_cases_kept=self.cases_kept))
        self.in_memory = False
