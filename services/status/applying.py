"""Applying events in the status service: each is checked against its producer's chain, becomes the ledger's
next leaf and is folded into the read model, in chain order; a whole batch in one transaction.

An event that arrives before its producer's previous one (replicas sharing the consumer take events in
turns) is parked, not applied, and applied with its leaf as soon as the predecessor lands;
``ledger.service.sweep_parked`` dead-letters it if the predecessor never comes. A broken link or a bad hash
raises ``ChainBreak``: the batch fails, its events are retried one by one, the bad one is then
dead-lettered. Nothing is skipped.

A fork (a second, different event signed by the producer for a place already logged or parked) is not a
duplicate to drop: it is recorded in ``ledger_forks``, counted and logged at error level, and the producer is
halted (its later events are parked, not applied) until an operator resolves the fork; then its parked
events are applied in order (``Applier.resume``).

The ledger's head row is locked first: the one lock every status transaction takes before any case row,
so replicas queue on it instead of deadlocking, and what the batch read stays true until it commits.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

from prometheus_client import Counter
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.status import bulk
from services.status.ledger.store import Appender, Ledger
from services.status.ledger.tables import LedgerTables
from services.status.projection import Projection, refuse_if_misfiled
from shared.db import utcnow
from shared.events import EVENT_MODELS, Envelope, nats_subject
from shared.ledger.chain import ChainBreak, Finding

log = logging.getLogger("sbt.ledger")


class ParkedEvents:
    """The parked events of some producers as this transaction sees them. Parking and taking change memory;
    the rows are written with everything else (``collect``)."""

    def __init__(self, tables: LedgerTables, *, fresh: bool = False) -> None:
        self.table = tables.parked
        self.rows: dict[tuple[str, int], dict[str, Any]] = {}  # (producer, producerseq) -> row
        self._loaded: set[str] = set()
        self._fresh = fresh  # nothing parked but what this object parked (a replay into fresh tables)
        self._parked: dict[str, dict[str, Any]] = {}  # event id -> row parked since the last collection
        self._taken: set[str] = set()  # event ids of stored rows taken since the last collection

    async def load(self, session: AsyncSession, producers: Iterable[str]) -> None:
        wanted = sorted(set(producers) - self._loaded)
        self._loaded.update(wanted)
        if not wanted or self._fresh:
            return
        for row in (await session.execute(select(self.table).where(self.table.c.producer.in_(wanted)))).mappings():
            self.rows[(row["producer"], row["producerseq"])] = dict(row)

    def park(self, envelope: Envelope, stream_seq: int, finding: Finding) -> None:
        place = (envelope.producer, envelope.producerseq or 0)
        other = self.rows.get(place)
        if other is not None and other["event_id"] != envelope.id:
            raise ChainBreak(Finding("fork", envelope.producer, envelope.producerseq, None, envelope.id,
                                     f"{envelope.producer} #{envelope.producerseq}: events {other['event_id']} and "
                                     f"{envelope.id} both claim this place"))
        row = {"producer": envelope.producer, "producerseq": envelope.producerseq, "stream_seq": stream_seq,
               "event_id": envelope.id, "nats_subject": nats_subject(EVENT_MODELS[envelope.type]),
               "envelope": envelope.model_dump_json(exclude_none=True), "reason": finding.detail,
               "parked_at": utcnow()}
        self.rows[place] = self._parked[envelope.id] = row
        log.warning("ledger: parked stream %s until its predecessor arrives: %s", stream_seq, finding.detail)

    def take(self, producer: str, producerseq: int) -> tuple[Envelope, int] | None:
        """The parked event at this place in its producer's chain, removed from the parked ones; or None."""
        row = self.rows.pop((producer, producerseq), None)
        if row is None:
            return None
        if self._parked.pop(row["event_id"], None) is None:  # parked before: its row is stored
            self._taken.add(row["event_id"])
        return Envelope.model_validate_json(row["envelope"]), row["stream_seq"]

    def collect(self) -> list[bulk.Write]:
        writes: list[bulk.Write] = []
        if self._taken:
            writes.append(partial(bulk.execute, rows=[{"taken": event_id} for event_id in sorted(self._taken)],
                                  statement=delete(self.table).where(self.table.c.event_id == bindparam("taken"))))
        if self._parked:
            writes.append(partial(bulk.execute, statement=insert(self.table), rows=list(self._parked.values())))
        self._parked, self._taken = {}, set()
        return writes


FORKS_DETECTED = Counter(
    "sbt_ledger_forks_total",
    "Forks detected: two different events, both signed by the producer, claiming one place in its chain "
    "(the producer is halted until an operator resolves the fork)",
    ["producer"],
)


class Forks:
    """The producers halted by an unresolved fork, as this transaction sees them, and the forks found in it
    (written with everything else by ``collect``)."""

    def __init__(self, tables: LedgerTables, *, fresh: bool = False) -> None:
        self.table = tables.forks
        self.halted: set[str] = set()
        self._loaded: set[str] = set()
        self._fresh = fresh
        self._found: list[dict[str, Any]] = []

    async def load(self, session: AsyncSession, producers: Iterable[str]) -> None:
        wanted = sorted(set(producers) - self._loaded)
        self._loaded.update(wanted)
        if not wanted or self._fresh:
            return
        halted = await session.scalars(select(self.table.c.producer).distinct().where(
            self.table.c.producer.in_(wanted), self.table.c.resolved_at.is_(None)))
        self.halted.update(halted)

    def record(self, envelope: Envelope, stream_seq: int, finding: Finding) -> None:
        """A fork: kept for the operator, its producer halted from now on. Loud on purpose."""
        self.halted.add(envelope.producer)
        self._found.append({"producer": envelope.producer, "producerseq": envelope.producerseq or 0,
                            "event_id": envelope.id, "stream_seq": stream_seq,
                            "envelope": envelope.model_dump_json(exclude_none=True), "detail": finding.detail,
                            "detected_at": utcnow()})
        FORKS_DETECTED.labels(envelope.producer).inc()
        log.error("ledger: FORK in %s's chain at stream %s: %s; %s is halted until an operator resolves it "
                  "(GET /v1/ops/forks)", envelope.producer, stream_seq, finding.detail, envelope.producer)

    def collect(self) -> list[bulk.Write]:
        if not self._found:
            return []
        rows, self._found = self._found, []
        return [partial(bulk.execute, statement=insert(self.table), rows=rows)]


class Applier:
    """The ledger, the parked events and the read model for a run of events: read once, changed in memory,
    written by ``flush``."""

    def __init__(self, appender: Appender, parked: ParkedEvents, projection: Projection,
                 forks: Forks | None = None) -> None:
        self.appender = appender
        self.parked = parked
        self.projection = projection
        self.forks = forks if forks is not None else Forks(appender.ledger.tables, fresh=True)

    @classmethod
    async def begin(cls, session: AsyncSession, ledger: Ledger, envelopes: list[Envelope]) -> Applier:
        """One transaction's applier (the live consumer's): locks the ledger's head, then reads what
        ``envelopes`` touch."""
        applier = cls(await ledger.appender(session), ParkedEvents(ledger.tables), Projection(), Forks(ledger.tables))
        await applier.load(session, envelopes)
        return applier

    @classmethod
    def fresh(cls, ledger: Ledger, *, max_cases_kept: int = 0,
              before_read: Callable[[], Awaitable[None]] | None = None) -> Applier:
        """An applier over fresh tables that only it writes (a replay), kept across its transactions;
        ``before_read`` as for ``Projection``."""
        return cls(ledger.fresh_appender(), ParkedEvents(ledger.tables, fresh=True),
                   Projection(fresh=True, max_cases_kept=max_cases_kept, before_read=before_read))

    async def load(self, session: AsyncSession, envelopes: list[Envelope]) -> None:
        """Read what ``envelopes`` touch and is not in memory yet: chain heads, parked events, cases, blocks."""
        producers = {envelope.producer for envelope in envelopes}
        await self.appender.load_producers(session, producers)
        await self.parked.load(session, producers)
        await self.forks.load(session, producers)
        await self.projection.load(session, envelopes)

    async def apply(self, session: AsyncSession, envelope: Envelope, stream_seq: int, *,
                    hash_checked: bool = False) -> None:
        """Apply one event (loaded first) and then the parked successors it lets through.

        ``hash_checked``: the consumer has already found its content to match its hash."""
        refuse_if_misfiled(envelope)  # judged now, even if it has to wait for its predecessor
        finding = self.appender.check(envelope, hash_checked=hash_checked)
        if finding is not None and finding.kind == "fork":
            self.forks.record(envelope, stream_seq, finding)
            return
        halted = envelope.producer in self.forks.halted
        if halted or (finding is not None and finding.kind == "gap"):
            if halted:
                finding = Finding("halted", envelope.producer, envelope.producerseq, None, envelope.id,
                                  f"{envelope.producer} is halted by an unresolved fork")
            try:
                self.parked.park(envelope, stream_seq, finding)
            except ChainBreak as fork:  # another event is already parked at this place
                self.forks.record(envelope, stream_seq, fork.finding)
            return
        self.appender.append(envelope, stream_seq, found=finding)  # raises ChainBreak first
        await self.projection.record(session, envelope, stream_seq)
        seq = envelope.producerseq or 0
        while (successor := self.parked.take(envelope.producer, seq + 1)) is not None:
            parked, parked_seq = successor
            await self.projection.load(session, [parked])
            self.appender.append(parked, parked_seq)  # checked again: its predecessor is only now known
            await self.projection.record(session, parked, parked_seq)
            seq += 1

    async def resume(self, session: AsyncSession, producer: str) -> int:
        """Apply ``producer``'s parked events that continue its chain (once its forks are resolved); returns
        how many. Call ``flush`` after."""
        await self.appender.load_producers(session, [producer])
        await self.parked.load(session, [producer])
        head = self.appender.heads.get(producer)
        seq, applied = (head.producerseq if head else 0), 0
        while (successor := self.parked.take(producer, seq + 1)) is not None:
            parked, parked_seq = successor
            await self.projection.load(session, [parked])
            self.appender.append(parked, parked_seq)
            await self.projection.record(session, parked, parked_seq)
            seq, applied = seq + 1, applied + 1
        return applied

    async def flush(self, session: AsyncSession) -> None:
        """Write everything applied since the last flush, in the caller's transaction, in ``collect``'s order;
        the ledger's ``on_commit`` listeners are told the new tree size once that transaction commits."""
        for write in self.forks.collect() + self.parked.collect() + self.projection.collect():
            await write(session)
        await self.appender.flush(session)

    def collect(self) -> list[bulk.Write]:
        """Everything applied since the last collection, as statements to run in one transaction in order:
        the read model first, then the ledger (which tells the read index the new tree size)."""
        return self.forks.collect() + self.parked.collect() + self.projection.collect() + self.appender.collect()
