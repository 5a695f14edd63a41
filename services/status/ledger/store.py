"""The ledger in the status database: appending leaves (after checking the producer's chain), and reading
roots and proofs from the stored perfect subtrees. Helpers never commit: the caller's transaction does, so
an event, its leaf and its place in its producer's chain are written together or not at all."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import orjson
from prometheus_client import Counter
from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_ignoring_duplicates
from shared.events import Envelope
from shared.ledger import merkle
from shared.ledger.chain import ChainBreak, ChainHead, Finding, check_next
from services.status.ledger.tables import LedgerTables

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
        # answers from the database until it has seen that size).
        self.on_append: list[Callable[[int], None]] = []

    # --- writing -------------------------------------------------------------------------------------------

    async def lock(self, session: AsyncSession) -> None:
        """Take the head row's lock, making the row first if the ledger is empty: every status transaction
        queues here (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers), so whether an event
        continues its chain, or waits parked for its predecessor, is decided one event at a time."""
        t = self.tables.head
        locked = select(t.c.tree_size).where(t.c.log_id == self.log_id).with_for_update()
        if (await session.execute(locked)).one_or_none() is None:
            await insert_ignoring_duplicates(session, t, {"log_id": self.log_id, "tree_size": 0,
                                                          "root_hash": merkle.EMPTY_ROOT.hex(), "frontier": "[]"})
            await session.execute(locked)

    async def check(self, session: AsyncSession, envelope: Envelope) -> Finding | None:
        """Whether ``envelope`` continues its producer's chain as logged so far."""
        t = self.tables.producers
        producer = (await session.execute(select(t).where(t.c.producer == envelope.producer))).one_or_none()
        return check_next(ChainHead(producer.producerseq, producer.hash) if producer else None, envelope)

    async def append(self, session: AsyncSession, envelope: Envelope, stream_seq: int) -> int:
        """Check ``envelope`` continues its producer's chain, then make it the next leaf; returns its index.

        Raises ``ChainBreak`` (nothing written) if it does not: the consumer retries it, then dead-letters it."""
        t = self.tables
        head = (
            await session.execute(select(t.head).where(t.head.c.log_id == self.log_id).with_for_update())
        ).one_or_none()
        producer = (
            await session.execute(select(t.producers).where(t.producers.c.producer == envelope.producer))
        ).one_or_none()
        finding = check_next(ChainHead(producer.producerseq, producer.hash) if producer else None, envelope)
        if finding is not None:
            CHAIN_BREAKS.labels(envelope.producer, finding.kind).inc()
            log.error("ledger: chain break at stream %s: %s", stream_seq, finding.detail)
            raise ChainBreak(finding)

        size = head.tree_size if head else 0
        edge = [bytes.fromhex(h) for h in orjson.loads(head.frontier)] if head else []
        nodes, edge, root = merkle.append(size, bytes.fromhex(envelope.hash or ""), edge)
        await session.execute(
            insert(t.leaves).values(leaf_index=size, stream_seq=stream_seq, event_id=envelope.id,
                                    event_hash=envelope.hash)
        )
        await session.execute(insert(t.nodes), [{"level": lv, "idx": ix, "hash": h.hex()} for lv, ix, h in nodes])
        state = {"tree_size": size + 1, "root_hash": root.hex(), "frontier": orjson.dumps([h.hex() for h in edge]).decode()}
        if head is None:
            await session.execute(insert(t.head).values(log_id=self.log_id, **state))
        else:
            await session.execute(update(t.head).where(t.head.c.log_id == self.log_id).values(**state))
        chain = {"producerseq": envelope.producerseq, "hash": envelope.hash, "event_id": envelope.id}
        if producer is None:
            await session.execute(insert(t.producers).values(producer=envelope.producer, **chain))
        else:
            await session.execute(update(t.producers).where(t.producers.c.producer == envelope.producer).values(**chain))
        LEAVES_APPENDED.inc()
        for listener in self.on_append:
            listener(size + 1)
        return size

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
