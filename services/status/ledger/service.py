"""The ledger's use cases in the status service: publish checkpoints (periodically and on demand), dead-letter
events parked too long, accept witnesses' co-signatures, and attach a signed checkpoint and inclusion proofs
to what the read side answers. Appending every logged event is services/status/applying.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.status.ledger.signer import Signer, signer_from_settings, witness_keys
from services.status.ledger.store import CHAIN_BREAKS, Ledger
from services.status.ledger.tables import LedgerTables
from shared.db import utcnow
from shared.events.ledger import LedgerCheckpoint
from shared.ledger import checkpoint as cp

log = logging.getLogger("sbt.ledger")

# The ledger's own announcements are not leaves: a checkpoint over a tree that holds checkpoints would grow
# the tree each time it is published, and never be current.
NOT_LOGGED = frozenset({LedgerCheckpoint.event_type})


@dataclass
class LedgerRuntime:
    ledger: Ledger
    signer: Signer
    # The checkpoint last signed for reads, reused while the tree has that size and root: signing is the
    # dearest part of an answer, and one signature per tree size says all a signature can.
    signed: cp.Checkpoint | None = None


def ledger_of(runtime) -> LedgerRuntime:  # noqa: ANN001 - shared.service.Runtime
    """The ledger of a status runtime, built once per process."""
    existing = getattr(runtime, "ledger", None)
    if existing is None:
        from services.status.models import ledger as tables

        existing = LedgerRuntime(Ledger(tables, log_id=runtime.settings.ledger_log_id),
                                 signer_from_settings(runtime.settings))
        runtime.ledger = existing
    return existing


async def sweep_parked(runtime, *, older_than: dt.timedelta) -> int:  # noqa: ANN001
    """Dead-letter parked events whose predecessor has not come for ``older_than``: a real gap in a chain.
    Their inbox entry goes too, so an operator's replay applies them once the gap is mended."""
    parts = ledger_of(runtime)
    parked, tables = parts.ledger.tables.parked, runtime.tables
    async with runtime.transaction() as session:
        # Under the lock the consumer's transactions take: a parked event is either still parked when a
        # batch reads it (and applied there) or dead-lettered here, never both.
        await parts.ledger.lock(session)
        # A producer halted by a fork waits for the operator, not for a predecessor: its events stay parked.
        forks = parts.ledger.tables.forks
        halted = select(forks.c.producer).where(forks.c.resolved_at.is_(None))
        rows = (await session.execute(
            select(parked).where(parked.c.parked_at < utcnow() - older_than, parked.c.producer.not_in(halted))
            .order_by(parked.c.stream_seq)
        )).all()
        for row in rows:
            error = f"ChainBreak: {row.reason}; still missing after {older_than.total_seconds():g}s"
            await session.execute(insert(tables.dead_letters).values(
                consumer=runtime.name, event_id=row.event_id, event_type=orjson.loads(row.envelope)["type"],
                nats_subject=row.nats_subject, stream_seq=row.stream_seq, payload=row.envelope, error=error,
                attempts=1, created_at=utcnow(),
            ))
            await session.execute(delete(tables.inbox).where(
                tables.inbox.c.consumer == runtime.name, tables.inbox.c.event_id == row.event_id))
            await session.execute(delete(parked).where(parked.c.event_id == row.event_id))
            CHAIN_BREAKS.labels(row.producer, "gap").inc()
            log.error("ledger: dead-lettered stream %s: %s", row.stream_seq, error)
    return len(rows)


# --- checkpoints ------------------------------------------------------------------------------------------

def _checkpoint_of(row, cosignatures: Iterable = ()) -> cp.Checkpoint:  # noqa: ANN001
    return cp.Checkpoint(
        log_id=row.log_id, tree_size=row.tree_size, root_hash=row.root_hash, time=row.time, key_id=row.key_id,
        signature=row.signature,
        cosignatures=tuple(cp.Cosignature(witness=c.witness, key_id=c.key_id, signature=c.signature)
                           for c in sorted(cosignatures, key=lambda c: c.witness)),
    )


async def published(session: AsyncSession, tables: LedgerTables, *, after_size: int = -1,
                    limit: int = 1000, latest: bool = False) -> list[cp.Checkpoint]:
    """Published checkpoints with their co-signatures, oldest first (or only the latest one)."""
    t, c = tables.checkpoints, tables.cosignatures
    query = select(t)
    query = query.order_by(t.c.tree_size.desc()).limit(1) if latest else \
        query.where(t.c.tree_size > after_size).order_by(t.c.tree_size).limit(limit)
    rows = (await session.execute(query)).all()
    if not rows:
        return []
    sizes = [row.tree_size for row in rows]
    by_size: dict[int, list] = {}
    for cosignature in (await session.execute(select(c).where(c.c.tree_size.in_(sizes)))).all():
        by_size.setdefault(cosignature.tree_size, []).append(cosignature)
    return [_checkpoint_of(row, by_size.get(row.tree_size, ())) for row in rows]


async def publish(runtime, *, only_if_grown: bool = True) -> tuple[cp.Checkpoint | None, bool]:  # noqa: ANN001
    """Sign the current tree, record it and announce it as ``sbt.ledger.checkpoint.v1`` in one transaction.

    Returns (checkpoint, created). When the tree has not grown since the latest checkpoint, that one is
    returned and nothing is written."""
    parts = ledger_of(runtime)
    tables = parts.ledger.tables
    async with runtime.transaction() as session:
        size, root = await parts.ledger.size_and_root(session)
        (latest,) = await published(session, tables, latest=True) or (None,)
        if latest is not None and latest.tree_size >= size:
            return latest, False
        if size == 0 and only_if_grown:
            return None, False
        checkpoint = parts.signer.sign(size, root, runtime.clock.now())
        event = LedgerCheckpoint(log_id=checkpoint.log_id, tree_size=size, root_hash=checkpoint.root_hash,
                                 time=checkpoint.time, key_id=checkpoint.key_id, signature=checkpoint.signature)
        envelope = await runtime.outbox.stage(session, event, subject=checkpoint.log_id)
        await session.execute(insert(tables.checkpoints).values(**checkpoint.body(), key_id=checkpoint.key_id,
                                                                signature=checkpoint.signature, event_id=envelope.id))
    log.info("ledger: published checkpoint %s root %s", size, checkpoint.root_hash)
    return checkpoint, True


async def publish_periodically(runtime) -> None:  # noqa: ANN001 - the status service's background work
    """Publish a checkpoint every ``ledger_checkpoint_seconds`` (when the tree grew) and dead-letter events
    parked longer than ``ledger_gap_seconds``."""
    settings = runtime.settings
    every, gap = settings.ledger_checkpoint_seconds, settings.ledger_gap_seconds
    tick = min(x for x in (every, gap / 4, 60.0) if x > 0)
    last_checkpoint = asyncio.get_running_loop().time()
    while True:
        await asyncio.sleep(tick)
        try:
            await sweep_parked(runtime, older_than=dt.timedelta(seconds=gap))
        except Exception:  # noqa: BLE001 - the next tick tries again
            log.exception("ledger: sweeping parked events failed")
        now = asyncio.get_running_loop().time()
        if every <= 0 or now - last_checkpoint < every:
            continue
        last_checkpoint = now
        try:
            await publish(runtime)
        except IntegrityError:
            pass  # another replica published this size first
        except Exception:  # noqa: BLE001 - the next period tries again
            log.exception("ledger: publishing a checkpoint failed")


class CosignatureRefused(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


async def add_cosignature(runtime, checkpoint: cp.Checkpoint, cosignature: cp.Cosignature) -> cp.Checkpoint:  # noqa: ANN001
    """Keep a witness's co-signature of one of our checkpoints, after checking both signatures and that the
    checkpoint describes our tree. Raises CosignatureRefused naming the field at fault."""
    parts = ledger_of(runtime)
    tables = parts.ledger.tables
    own = {parts.signer.key_id: parts.signer.key.public_key()}
    try:
        cp.verify(checkpoint, own)
    except cp.SignatureError as error:
        raise CosignatureRefused("checkpoint", str(error)) from None
    try:
        cp.verify_cosignature(checkpoint, cosignature, witness_keys(runtime.settings))
    except cp.SignatureError as error:
        raise CosignatureRefused("cosignature", str(error)) from None
    async with runtime.transaction() as session:
        size, _ = await parts.ledger.size_and_root(session)
        if checkpoint.tree_size > size or (
            checkpoint.tree_size and (await parts.ledger.root_at(session, checkpoint.tree_size)).hex() != checkpoint.root_hash
        ):
            raise CosignatureRefused("checkpoint", "the checkpoint does not describe this log's tree")
        t, c = tables.checkpoints, tables.cosignatures
        stored = (await session.execute(select(t).where(t.c.tree_size == checkpoint.tree_size))).one_or_none()
        if stored is None:  # a checkpoint a read was answered with: keep it now that it is witnessed
            await session.execute(insert(t).values(**checkpoint.body(), key_id=checkpoint.key_id,
                                                   signature=checkpoint.signature))
        elif stored.root_hash != checkpoint.root_hash:
            raise CosignatureRefused("checkpoint", "another root is recorded for this size")
        existing = (await session.execute(
            select(c).where(c.c.tree_size == checkpoint.tree_size, c.c.witness == cosignature.witness)
        )).one_or_none()
        if existing is None:
            await session.execute(insert(c).values(tree_size=checkpoint.tree_size, witness=cosignature.witness,
                                                   key_id=cosignature.key_id, signature=cosignature.signature,
                                                   received_at=utcnow()))
        (latest,) = await published(session, tables, after_size=checkpoint.tree_size - 1, limit=1)
    return latest


# --- evidence for the read side ---------------------------------------------------------------------------

async def current_checkpoint(runtime, session: AsyncSession) -> cp.Checkpoint:  # noqa: ANN001
    """A signed checkpoint of the tree as this session sees it: the published one (with its witnesses) when
    the tree has not grown since, else one signed now."""
    parts = ledger_of(runtime)
    size, root = await parts.ledger.size_and_root(session)
    (latest,) = await published(session, parts.ledger.tables, latest=True) or (None,)
    if latest is not None and latest.tree_size == size:
        return latest
    signed = parts.signed
    if signed is None or signed.tree_size != size or signed.root_hash != root.hex():
        signed = parts.signed = parts.signer.sign(size, root, runtime.clock.now())
    return signed


async def evidence(runtime, session: AsyncSession, envelopes: list[tuple[int, str]],  # noqa: ANN001
                   with_proofs: bool) -> tuple[cp.Checkpoint, list[dict] | None]:
    """The checkpoint an answer was read at and, if asked, the inclusion proofs of its events.

    ``envelopes`` are (stream_seq, envelope JSON) of the events the answer rests on, read before this call:
    the tree is read last, so it holds every one of them."""
    checkpoint = await current_checkpoint(runtime, session)
    if not with_proofs:
        return checkpoint, None
    parts = ledger_of(runtime)
    documents = [orjson.loads(text) for _, text in envelopes]
    leaves = await parts.ledger.leaves_of(session, [d["id"] for d in documents])
    indexes = [leaves[d["id"]][0] for d in documents if d["id"] in leaves]
    paths = await parts.ledger.inclusion_proofs(session, indexes, checkpoint.tree_size) if checkpoint.tree_size else {}
    proofs = []
    for document in documents:
        index = leaves.get(document["id"], (None,))[0]
        if index is None or index not in paths:
            continue
        proofs.append({"leaf_index": index, "audit_path": [h.hex() for h in paths[index]], "envelope": document})
    proofs.sort(key=lambda p: p["leaf_index"])
    return checkpoint, proofs



# --- forks ---------------------------------------------------------------------------------------------------

async def forks(runtime, *, state: str = "open", limit: int = 100) -> list[dict]:  # noqa: ANN001
    """Forks found in producers' chains, newest first, each with the event the ledger logged at that place."""
    parts = ledger_of(runtime)
    table = parts.ledger.tables.forks
    query = select(table).order_by(table.c.id.desc()).limit(limit)
    if state == "open":
        query = query.where(table.c.resolved_at.is_(None))
    elif state == "resolved":
        query = query.where(table.c.resolved_at.is_not(None))
    async with runtime.sessions() as session:
        rows = (await session.execute(query)).mappings().all()
    return [dict(row) for row in rows]


class ForkNotFound(LookupError):
    pass


class ForkAlreadyResolved(ValueError):
    pass


async def resolve_fork(runtime, fork_id: int, *, resolved_by: str, note: str) -> tuple[dict, int]:  # noqa: ANN001
    """An operator's decision on a fork: the ledger keeps the event it logged (it is append-only), the other
    stays on record in ``ledger_forks`` with the note; once no fork of that producer is open, its parked events
    are applied in order. Returns the fork and how many parked events were applied."""
    from services.status.applying import Applier

    parts = ledger_of(runtime)
    table = parts.ledger.tables.forks
    async with runtime.transaction() as session:
        await parts.ledger.lock(session)
        row = (await session.execute(select(table).where(table.c.id == fork_id))).mappings().one_or_none()
        if row is None:
            raise ForkNotFound(fork_id)
        if row["resolved_at"] is not None:
            raise ForkAlreadyResolved(f"fork {fork_id} was resolved at {row['resolved_at']}")
        await session.execute(update(table).where(table.c.id == fork_id).values(
            resolved_at=runtime.clock.now(), resolved_by=resolved_by, resolution=note))
        still_open = await session.scalar(select(table.c.id).where(
            table.c.producer == row["producer"], table.c.resolved_at.is_(None)).limit(1))
        applied = 0
        if still_open is None:
            applier = await Applier.begin(session, parts.ledger, [])
            applied = await applier.resume(session, row["producer"])
            await applier.flush(session)
        resolved = (await session.execute(select(table).where(table.c.id == fork_id))).mappings().one()
    log.warning("ledger: fork %s of %s resolved by %s (%s); %d parked events applied", fork_id, row["producer"],
                resolved_by, note, applied)
    return dict(resolved), applied
