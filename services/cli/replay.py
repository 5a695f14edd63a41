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
import collections
import contextlib
import gc
import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import orjson
from nats.aio.msg import Msg
from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.db import create_engine, is_postgres, sessionmaker
from shared.events import Envelope
from shared.events.catalog import producer_of_subject
from shared.events.signing import ProducerKeys, producer_keys_from_settings
from shared.messaging.consumer import Consumer, UntrustedEvent
from services.cli.settings import SystemSettings

# Columns that record when this database did something, not what the events say.
VOLATILE_COLUMNS = frozenset({"updated_at", "created_at", "applied_at", "received_at"})
# How long the stream may stay silent before the live position is reached.
STREAM_SILENCE_SECONDS = 10.0
# Events folded between two turns of the event loop, in which the batch before is written.
YIELD_EVERY = 32
# Case statuses a replay keeps in memory between batches (about 4.5 KiB each); beyond it they are read back from
# the fresh tables. A stream's later events mostly concern recent cases: more would buy little and cost the
# memory goal (400 MiB a process); at 20,000 the replay was slower, too (more for the collector to walk).
CASES_KEPT = 5_000
# Batches read and being checked ahead of the one being folded.
CHECKS_IN_FLIGHT = 3
# Processes that check hashes and signatures beside the one that folds: all the other cores, a few at most.
CHECK_PROCESSES = max(1, min(4, (os.cpu_count() or 2) - 1))
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
                                 execution_options={"yield_per": 2_000})
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
    cpu_seconds: float = 0.0  # this process's (all its threads), not the checking processes'
    loop_cpu_seconds: float = 0.0  # its event loop's thread's alone (the database driver's thread is the rest)
    replayed: dict[str, str] = field(default_factory=dict)
    live: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0

    @property
    def differing(self) -> list[str]:
        return sorted(name for name in self.live if self.live[name] != self.replayed.get(name))


async def replay(settings: SystemSettings, *, live_url: str, into_url: str, batch_size: int = 500,
                 progress: Callable[[int, int], None] | None = None, cases_kept: int = CASES_KEPT,
                 check_processes: int = CHECK_PROCESSES) -> ReplayResult:
    """``cases_kept``: case statuses kept in memory between batches (beyond, they are read back);
    ``check_processes``: processes checking hashes and signatures beside this one (0: this one does)."""

    # Started first: the checking processes start up while the live database is read.
    checks = _Checks(producer_keys_from_settings(settings), check_processes)
    try:
        return await _replay(settings, checks, live_url=live_url, into_url=into_url, batch_size=batch_size,
                             progress=progress, cases_kept=cases_kept)
    finally:
        checks.close()


async def _replay(settings: SystemSettings, checks: _Checks, *, live_url: str, into_url: str, batch_size: int,
                  progress: Callable[[int, int], None] | None, cases_kept: int) -> ReplayResult:
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
    started, cpu_started, loop_started = time.perf_counter(), time.process_time(), time.thread_time()
    try:
        if position:
            # Reading and admitting the next batch goes on while this one is written: the database does its
            # part of a write in its own thread.
            batches: asyncio.Queue = asyncio.Queue(maxsize=2)
            reader = asyncio.create_task(_read(connection, settings, checks, position, batch_size, batches, result))
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
                await run.retire()
            finally:
                reader.cancel()
                await run.writer.abandon()
        result.seconds = time.perf_counter() - started
        result.cpu_seconds = time.process_time() - cpu_started
        result.loop_cpu_seconds = time.thread_time() - loop_started
        async with sessions() as session:
            result.replayed = await state_hashes(session)
    finally:
        await connection.close()
        await engine.dispose()
    return result


def _gate(keys: ProducerKeys) -> Consumer:
    """The live consumer's own admission rules (valid envelope, hash and producer signature, source matching
    the subject, data matching its event's model), without its database or its bus."""
    from services.status.handlers import handlers
    from services.status.ledger.store import Ledger
    from services.status.models import ledger as ledger_tables

    return Consumer(name="status", sessions=None, tables=_messaging(), bus=None,
                    handlers=handlers(Ledger(ledger_tables, log_id="replay")), keys=keys)


@dataclass(frozen=True)
class _Raw:
    """What admission reads of a NATS message."""

    subject: str
    data: bytes


# The gate of a checking process (``_Checks``), made once when the process starts.
_PROCESS_GATE: Consumer | None = None


def _start_checking(keys_document: dict) -> None:
    global _PROCESS_GATE
    _PROCESS_GATE = _gate(ProducerKeys.from_document(keys_document))


def _refusals(messages: list[tuple[str, bytes]]) -> list[str | None]:
    """In a checking process: why each message would be refused by the live consumer (None: admitted)."""
    assert _PROCESS_GATE is not None
    found: list[str | None] = []
    for subject, data in messages:
        try:
            _PROCESS_GATE.decode(_Raw(subject, data))
        except UntrustedEvent as error:
            found.append(str(error))
        else:
            found.append(None)
    return found


class _Checks:
    """Admission, the costliest part of which is checking each event's hash and Ed25519 signature (about
    60 us an event, more than folding and writing it), in processes of their own, a batch at a time, while
    this process folds and writes the batches before. Each event's checks depend on nothing but the event
    and the pinned keys, so they may run anywhere and in any order; what the ledger's order decides (the
    chain links, forks, gaps, folding) is still done here, event after event in stream order.

    With ``processes`` 0 (or when no process can be started) the checks run here, as before."""

    def __init__(self, keys: ProducerKeys, processes: int) -> None:
        self.gate = _gate(keys)
        self.pool: ProcessPoolExecutor | None = None
        if processes > 0:
            try:
                self.pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_start_checking, initargs=(keys.document(),))
                self.pool.submit(int)  # they start (and read the keys) while the live database is read
            except (OSError, ValueError):  # no processes here: check in this one
                self.pool = None

    def submit(self, msgs: list[Msg]) -> asyncio.Future | None:
        """Start checking ``msgs`` elsewhere; None when they are checked here (``admit``)."""
        if self.pool is None:
            return None
        try:
            return asyncio.wrap_future(self.pool.submit(_refusals, [(msg.subject, msg.data) for msg in msgs]))
        except (BrokenProcessPool, RuntimeError):  # a checking process died: this one checks from here on
            self.close()
            return None

    async def admit(self, msgs: list[Msg], checked: asyncio.Future | None,
                    result: ReplayResult) -> list[tuple[int, Envelope]]:
        """The admitted events of ``msgs`` with their stream positions; the refused ones noted as skipped."""
        refusals: list[str | None] | None = None
        if checked is not None:
            try:
                refusals = await checked
            except BrokenProcessPool:  # a checking process died: this one checks from here on
                self.close()
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # this task is being stopped
                self.close()  # cancelled by ``close`` after a checking process died
        batch: list[tuple[int, Envelope]] = []
        for index, msg in enumerate(msgs):
            seq = msg.metadata.sequence.stream
            try:
                if refusals is None:
                    envelope, _ = self.gate.decode(msg)
                elif refusals[index] is not None:
                    raise UntrustedEvent(refusals[index])
                else:  # admitted there: parsed again here, as the live consumer parses it
                    envelope = Envelope.model_validate(orjson.loads(msg.data))
            except UntrustedEvent as error:
                if producer_of_subject(msg.subject) != "status":  # its own checkpoints are not leaves
                    result.skipped.append(f"stream {seq}: refused as the live consumer does: {error}")
            else:
                batch.append((seq, envelope))
        return batch

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


async def _read(connection, settings: SystemSettings, checks: _Checks, position: int, batch_size: int,  # noqa: ANN001
                batches, result: ReplayResult) -> None:  # noqa: ANN001 - an asyncio.Queue
    """Put (stream position reached, admitted events) on ``batches`` up to ``position``, then None."""
    from services.cli.stream_reader import StreamReader
    from shared.events.catalog import SUBJECT_PREFIX

    reader = StreamReader(connection, settings.stream_name, subjects=f"{SUBJECT_PREFIX}.>", batch=batch_size,
                          silence_seconds=STREAM_SILENCE_SECONDS)
    # Batches being checked, oldest first: a few in flight keep the checking processes busy.
    checking: collections.deque[tuple[list[Msg], asyncio.Future | None]] = collections.deque()

    async def hand_on_oldest() -> None:
        msgs, checked = checking.popleft()
        await batches.put((msgs[-1].metadata.sequence.stream, await checks.admit(msgs, checked, result)))

    try:
        async for msgs in reader.read(until=position):
            checking.append((msgs, checks.submit(msgs)))
            if len(checking) > CHECKS_IN_FLIGHT:
                await hand_on_oldest()
        while checking:
            await hand_on_oldest()
    finally:
        for _, checked in checking:
            if checked is not None:
                checked.cancel()
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
        from services.status.bulk import COPY_ROWS

        async with self.sessions.begin() as session:
            session.info[COPY_ROWS] = True  # fresh tables that only this replay writes
            for write in writes:
                await write(session)


class _SeenIds:
    """The ids of the events a replay has taken (applied, parked or found forked), as the live consumer's inbox
    holds them, in a third of the memory of the ids themselves (a million events): a 64-bit digest of each.
    A digest seen before is confirmed against the rows written (events, parked, forks) before an event is
    called a repeat, so a collision of digests never drops an event."""

    def __init__(self, sessions, ledger, writer: _Writer) -> None:  # noqa: ANN001
        self.sessions, self.writer = sessions, writer
        self._digests: set[int] = set()
        events = _events_table()
        self._written = [select(events.c.event_id).where(events.c.event_id == bindparam("event_id"))] + [
            select(table.c.event_id).where(table.c.event_id == bindparam("event_id"))
            for table in (ledger.tables.parked, ledger.tables.forks)]

    def update(self, event_ids: Iterable[str]) -> None:
        self._digests.update(map(hash, event_ids))  # str hashes are SipHash, stable within this process

    async def contains(self, event_id: str) -> bool:
        if hash(event_id) not in self._digests:
            return False
        await self.writer.wait()  # what was taken before is committed
        async with self.sessions() as session:
            for statement in self._written:
                if await session.scalar(statement, {"event_id": event_id}) is not None:
                    return True
        return False


def _events_table() -> Table:
    from services.status.models import LoggedEvent

    return LoggedEvent.__table__  # type: ignore[return-value]


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
        self.seen = _SeenIds(sessions, ledger, self.writer)
        # Cases retired (sbt.case.retired.v1) -> the retiring event: removed once everything is folded, as the
        # live consumer removed them (services/status/retirement.py); nothing comes after a case's retirement.
        self.retired: dict[str, str] = {}

    async def retire(self) -> None:
        from services.status import retirement

        if self.retired:
            async with self.sessions.begin() as session:
                await retirement.retire(session, self.retired)

    async def apply(self, batch: list[tuple[int, Envelope]]) -> None:
        """Fold ``batch`` in memory and hand its writes to the writer; an event the live service refused
        sends the batch down the live consumer's fall-back, one event per transaction."""
        fresh: list[tuple[int, Envelope]] = []
        ids: set[str] = set()
        for seq, envelope in batch:
            if envelope.id in ids or await self.seen.contains(envelope.id):
                self.result.skipped.append(f"stream {seq}: {envelope.type} {envelope.id}: already applied (its id "
                                           "came before), as the live consumer's inbox says")
                continue
            ids.add(envelope.id)
            fresh.append((seq, envelope))
            if envelope.type == "sbt.case.retired.v1":
                self.retired[envelope.subject] = envelope.id
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
        self.seen.update(ids)
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
                self.seen.update([envelope.id])
                self.result.applied += 1
            except Exception as error:  # noqa: BLE001
                self.result.skipped.append(f"stream {seq}: {envelope.type} {envelope.id}: {type(error).__name__}: {error}")
        async with self.sessions.begin() as session:
            self.applier = Applier(await self.ledger.appender(session), ParkedEvents(self.ledger.tables),
                                   Projection(max_cases_kept=self.cases_kept))
        self.in_memory = False
