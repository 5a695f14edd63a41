"""The ledger in the status database: appending leaves (after checking the producer's chain), and reading
roots and proofs from the stored perfect subtrees. Helpers never commit: the caller's transaction does, so
an event, its leaf and its place in its producer's chain are written together or not at all."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial

import orjson
from prometheus_client import Counter
from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.status import bulk
from services.status.ledger.tables import LedgerTables
from shared.db import insert_ignoring_duplicates, on_commit
from shared.events import Envelope
from shared.ledger import merkle
from shared.ledger.chain import ChainBreak, ChainHead, Finding, check_next

log = logging.getLogger("sbt.ledger")

CHAIN_BREAKS = Counter(
    "sbt_ledger_chain_breaks_total",
    "Events refused because they do not continue their producer's hash chain (retried, then dead-lettered)",
    ["producer", "kind"],
)
LEAVES_APPENDED = Counter("sbt_ledger_leaves_appended_total", "Events appended to the ledger's Merkle tree")


class Ledger:
    def __init__(self, tables: LedgerTables, *, log_id: str) -> None:
        self.tables = tables
        self.log_id = log_id
        # Told the new tree size on every append, before its transaction commits (the in-memory read index
        # answers from the database until it has seen that size) ...
        self.on_append: list[Callable[[int], None]] = []
        # ... and once it has committed (the index reads it then, not while the transaction is still open).
        self.on_commit: list[Callable[[int], None]] = []

    # --- writing -------------------------------------------------------------------------------------------

    async def lock(self, session: AsyncSession) -> None:
        """Take the head row's lock, making the row first if the ledger is empty: every status transaction
        queues here (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers), so whether an event
        continues its chain, or waits parked for its predecessor, is decided one transaction at a time.

        The row read under the lock is kept with the transaction: ``appender`` needs it, and nothing else
        changes it before this transaction commits."""
        t = self.tables.head
        locked = select(t).where(t.c.log_id == self.log_id).with_for_update()
        head = (await session.execute(locked)).one_or_none()
        if head is None:
            await insert_ignoring_duplicates(session, t, {"log_id": self.log_id, "tree_size": 0,
                                                          "root_hash": merkle.EMPTY_ROOT.hex(), "frontier": "[]"})
            head = (await session.execute(locked)).one()
        session.info[self._locked_head] = head

    @property
    def _locked_head(self) -> str:
        return f"ledger-head-locked:{self.log_id}"

    async def appender(self, session: AsyncSession, producers: Iterable[str] = ()) -> Appender:
        """The tree and the chains of ``producers`` as this transaction sees them, for appends in memory.

        Under the head row's lock (taken here unless this transaction holds it already): what it read stays
        true until the transaction ends, so nothing needs to be read again per event."""
        head = session.info.pop(self._locked_head, None)
        if head is None:
            await self.lock(session)
            head = session.info.pop(self._locked_head)
        appender = Appender(self, size=head.tree_size, edge=[bytes.fromhex(h) for h in orjson.loads(head.frontier)])
        await appender.load_producers(session, producers)
        return appender

    def fresh_appender(self) -> Appender:
        """An appender over an empty ledger that no one else writes (a replay into fresh tables)."""
        return Appender(self, size=0, edge=[], head_stored=False, every_producer_known=True)

    # --- reading -------------------------------------------------------------------------------------------

    async def size_and_root(self, session: AsyncSession) -> tuple[int, bytes]:
        t = self.tables.head
        head = (await session.execute(select(t).where(t.c.log_id == self.log_id))).one_or_none()
        return (head.tree_size, bytes.fromhex(head.root_hash)) if head else (0, merkle.EMPTY_ROOT)

    async def leaves_of(self, session: AsyncSession, event_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
        """event id -> (leaf index, event hash it was appended with)."""
        ids = list(event_ids)
        if not ids:
            return {}
        t = self.tables.leaves
        rows = await session.execute(select(t.c.event_id, t.c.leaf_index, t.c.event_hash).where(t.c.event_id.in_(ids)))
        return {row.event_id: (row.leaf_index, row.event_hash) for row in rows}

    async def _compute(self, session: AsyncSession, compute):  # noqa: ANN001, ANN202
        """Run a pure tree computation against stored nodes, fetched in one query after a dry run."""
        wanted = merkle.required_nodes(compute)
        found: dict[tuple[int, int], bytes] = {}
        if wanted:
            t = self.tables.nodes
            rows = await session.execute(
                select(t.c.level, t.c.idx, t.c.hash).where(tuple_(t.c.level, t.c.idx).in_(sorted(wanted)))
            )
            found = {(row.level, row.idx): bytes.fromhex(row.hash) for row in rows}
        missing = wanted - found.keys()
        if missing:
            raise LookupError(f"ledger nodes missing from storage: {sorted(missing)[:5]}")
        return compute(lambda level, index: found[(level, index)])

    async def root_at(self, session: AsyncSession, size: int) -> bytes:
        return await self._compute(session, lambda node: merkle.root(size, node))

    async def inclusion_proofs(self, session: AsyncSession, indexes: Iterable[int], size: int) -> dict[int, list[bytes]]:
        wanted = sorted(set(indexes))
        return await self._compute(
            session, lambda node: {i: merkle.inclusion_proof(i, size, node) for i in wanted}
        )

    async def consistency_proof(self, session: AsyncSession, first: int, second: int) -> list[bytes]:
        return await self._compute(session, lambda node: merkle.consistency_proof(first, second, node))


class Appender:
    """Appends to the tree and checks producers' chains in memory, then writes the new leaves, nodes, head
    and chain heads with one statement per table (``flush``).

    The live consumer makes one per transaction (under the head row's lock); a replay into fresh tables
    keeps one for its whole run, since no one else writes there, and flushes it with every commit.
    """

    def __init__(self, ledger: Ledger, *, size: int, edge: list[bytes], head_stored: bool = True,
                 every_producer_known: bool = False) -> None:
        self.ledger = ledger
        self.size = size
        self.edge = edge
        self.head_stored = head_stored
        # producer -> its chain's head (None: no event of it logged yet); only producers loaded or appended.
        self.heads: dict[str, ChainHead | None] = {}
        self._stored_producers: set[str] = set()
        self._every_producer_known = every_producer_known
        self._changed_producers: dict[str, str] = {}  # producer -> event id of its new head
        self._leaves: list[tuple] = []  # (leaf_index, stream_seq, event_id, event_hash)
        self._nodes: list[tuple] = []  # (level, idx, hash)

    async def load_producers(self, session: AsyncSession, producers: Iterable[str]) -> None:
        wanted = sorted(set(producers) - self.heads.keys())
        if not wanted or self._every_producer_known:
            self.heads.update({producer: None for producer in wanted})
            return
        t = self.ledger.tables.producers
        rows = (await session.execute(select(t).where(t.c.producer.in_(wanted)))).all()
        found = {row.producer: ChainHead(row.producerseq, row.hash) for row in rows}
        self._stored_producers.update(found)
        self.heads.update({producer: found.get(producer) for producer in wanted})

    def check(self, envelope: Envelope, *, hash_checked: bool = False) -> Finding | None:
        """Whether ``envelope`` continues its producer's chain as logged so far (its producer loaded)."""
        return check_next(self.heads[envelope.producer], envelope, hash_checked=hash_checked)

    def append(self, envelope: Envelope, stream_seq: int, *, hash_checked: bool = False,
               found: Finding | None | bool = False) -> int:
        """Check ``envelope`` continues its producer's chain, then make it the next leaf; returns its index.

        Raises ``ChainBreak`` (nothing changed) if it does not. ``found``: what ``check`` said of it just
        before, if the caller asked (False: not asked)."""
        finding = self.check(envelope, hash_checked=hash_checked) if found is False else found
        producer = envelope.producer
        if finding is not None:
            CHAIN_BREAKS.labels(producer, finding.kind).inc()
            log.error("ledger: chain break at stream %s: %s", stream_seq, finding.detail)
            raise ChainBreak(finding)
        index = self.size
        nodes, self.edge = merkle.extend(index, bytes.fromhex(envelope.hash or ""), self.edge)
        self._leaves.append((index, stream_seq, envelope.id, envelope.hash))
        self._nodes.extend((level, idx, h.hex()) for level, idx, h in nodes)
        self.size = index + 1
        self.heads[producer] = ChainHead(envelope.producerseq or 0, envelope.hash or "")
        self._changed_producers[producer] = envelope.id
        return index

    async def flush(self, session: AsyncSession) -> None:
        """Write what was appended since the last flush, in the caller's transaction; ``on_commit`` is told
        the new size once that transaction commits."""
        size, appended = self.size, bool(self._leaves)
        for write in self.collect():
            await write(session)
        if appended:
            for listener in self.ledger.on_commit:
                on_commit(session, partial(listener, size))

    def collect(self) -> list[bulk.Write]:
        """What was appended since the last collection, as statements with their rows to run in one
        transaction, in order (and the head row of fresh tables, as the live consumer's first transaction
        makes it even if nothing was appended). Tells ``on_append`` the new size: it is written from here."""
        if not self._leaves and self.head_stored:
            return []
        t, ledger = self.ledger.tables, self.ledger
        writes: list[bulk.Write] = []
        if self._leaves:
            writes.append(partial(bulk.insert_rows, table=t.leaves, rows=self._leaves,
                                  columns=("leaf_index", "stream_seq", "event_id", "event_hash")))
            writes.append(partial(bulk.insert_rows, table=t.nodes, columns=("level", "idx", "hash"), rows=self._nodes))
        state = {"tree_size": self.size, "root_hash": merkle.fold_root(self.edge).hex(),
                 "frontier": orjson.dumps([h.hex() for h in self.edge]).decode()}
        if self.head_stored:
            writes.append(partial(bulk.execute, statement=update(t.head).where(t.head.c.log_id == ledger.log_id)
                                  .values(**state)))
        else:
            writes.append(partial(bulk.execute, statement=insert(t.head).values(log_id=ledger.log_id, **state)))
            self.head_stored = True
        chains = [{"producer": producer, "producerseq": self.heads[producer].producerseq,
                   "hash": self.heads[producer].hash, "event_id": event_id}
                  for producer, event_id in sorted(self._changed_producers.items())]
        new = [chain for chain in chains if chain["producer"] not in self._stored_producers]
        known = [{"key": chain["producer"], "new_producerseq": chain["producerseq"], "new_hash": chain["hash"],
                  "new_event_id": chain["event_id"]} for chain in chains if chain["producer"] in self._stored_producers]
        if new:
            writes.append(partial(bulk.execute, statement=insert(t.producers), rows=new))
            self._stored_producers.update(chain["producer"] for chain in new)
        if known:
            writes.append(partial(bulk.execute, rows=known, statement=bulk.update_by_key(
                t.producers, "producer", ("producerseq", "hash", "event_id"))))
        if self._leaves:
            LEAVES_APPENDED.inc(len(self._leaves))
            self._leaves, self._nodes, self._changed_producers = [], [], {}
            for listener in ledger.on_append:
                listener(self.size)
        return writes
