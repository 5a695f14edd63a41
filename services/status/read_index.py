"""The shared status per civil servant, answered from memory.

Every process knows which NIPs have a case and keeps every active block; the case summaries it keeps for
the civil servants read or changed most recently, up to a bound (``kept``), so a national election's
hundreds of thousands of cases cost memory in proportion to the bound, not to the log. A NIP with a case
that is not kept is loaded, all its cases at once, by the next refresh (a read of it waits a moment for
that), in the same snapshot as everything else that refresh reads. What is kept is kept current by
following the ledger: every change to the projection is made in the transaction that
appends the event's leaf, and leaves are appended under the head row's lock, so they become visible in
leaf order. A refresh reads the leaves past the last one it saw, reloads the cases and blocks they touch,
and reads the tree last, so the signed checkpoint an answer carries always covers what it shows. The
checkpoint is signed once per tree size (or is the published one, with its witnesses), not per request.

Freshness: a process that appends a leaf (its consumer, in the open transaction) tells the index the size
it must reach; until a refresh has seen that size the index is not ``current`` and the database route
answers instead, so a process never answers older than what it has itself applied. Once the transaction
commits the index is woken to read it. Leaves appended by another replica are picked up by the next poll
(``poll_seconds``; a poll that finds nothing new costs one statement), as any read of a replica would lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import orjson
from sqlalchemy import case, func, select

from services.status.schemas import summary_of
from services.status.bulk import KEYS_PER_QUERY, key_chunks
from services.status.ledger.service import current_checkpoint
from services.status.models import CaseRow, PersonnelBlock
from services.status.models import ledger as ledger_tables
from services.status.schemas import ActiveBlock
from shared.authz import EVERY_AGENCY, AgencyScope
from shared.memory import set_aside_for_collector
from shared.status_model import CaseStatus

log = logging.getLogger("sbt.status.index")

BLOCK_EVENTS = frozenset({"sbt.personnel.blocked.v1", "sbt.personnel.unblocked.v1"})
# An expected size not seen after this long is dropped: its transaction rolled back (the event is retried
# or dead-lettered); until then reads took the database route, which is always correct.
EXPECTATION_SECONDS = 2.0
# Leaves read per query while catching up.
_CHUNK = KEYS_PER_QUERY
# Once nothing has changed for a while the poll slows down to this: an idle replica then asks its database
# ten times a second rather than forty (a tenth of a core on SQLite, taken from the reads it serves), and a
# change another replica commits still shows within it. This process's own appends wake it at once.
IDLE_POLL_SECONDS = 0.1
IDLE_AFTER_SECONDS = 1.0
# Answers kept ready for the civil servants with a case or a block; the others' are built each time.
ANSWERS_KEPT = 50_000


class _CaseEntry(NamedTuple):
    """One case as an answer shows it. The summary is the route's own, so both answers are the same, kept
    serialised: a national election's hundreds of thousands of cases fit in memory as JSON text, not as
    dicts of dicts."""

    agency_code: str | None
    open: bool
    opened_at: str
    case_id: str
    summary: orjson.Fragment


def _case_entry(state: CaseStatus) -> _CaseEntry:
    summary = summary_of(state)
    return _CaseEntry(state.agency_code, state.is_open, state.opened_at, summary.case_id,
                      orjson.Fragment(summary.model_dump_json().encode()))


def _block_entry(row: PersonnelBlock) -> dict:
    return ActiveBlock(block_id=row.block_id, case_id=row.case_id, cause=row.cause, reason=row.reason,
                       since=row.blocked_at).model_dump(mode="json")


class StatusIndex:
    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._with_cases: set[str] = set()  # every NIP with a case (one retired since may linger: harmless)
        self._cases: OrderedDict[str, dict[str, _CaseEntry]] = OrderedDict()  # kept: nip -> case_id -> entry
        self._case_nip: dict[str, str] = {}  # the kept cases' NIPs
        self._wanted: set[str] = set()  # NIPs read while not kept: the next refresh loads them
        self._blocks: dict[str, dict[str, tuple[dict, str | None]]] = {}  # nip -> block_id -> (block, blocked_at)
        self._block_nip: dict[str, str] = {}
        self._answers: dict[str, bytes] = {}
        self._tail = b""
        self.next_leaf = 0
        self.tree_size = 0
        self.loaded = False
        self._expected = 0
        self._expected_at = 0.0
        self._marks: tuple | None = None  # see _marks: what the last refresh saw
        self._marks_query = None
        self.wake = asyncio.Event()
        self._refreshed = asyncio.Event()

    # --- freshness ------------------------------------------------------------------------------------------

    def expect(self, size: int) -> None:
        """This process is committing a tree of ``size`` leaves: answer from the database until it is seen."""
        if size > self._expected:
            self._expected, self._expected_at = size, time.monotonic()

    def committed(self, size: int) -> None:
        """This process has committed a tree of ``size`` leaves: read it now (reading before the commit
        would find the older tree, and cost a second refresh)."""
        self.wake.set()

    @property
    def current(self) -> bool:
        if not self.loaded:
            return False
        if self.tree_size >= self._expected:
            return True
        return time.monotonic() - self._expected_at > EXPECTATION_SECONDS

    async def until_current(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a refresh to reach this process's own appends; whether it did. A read
        waiting here is answered from memory a moment later rather than queueing for the database behind the
        transaction that appends (on SQLite its connection is the process's only one)."""
        if not self.loaded:
            return False
        return await self._until(lambda: self.current, timeout)

    def ready(self, nip: str) -> bool:
        """Whether ``answer(nip)`` can be given now: the NIP has no case, or its cases are kept."""
        return nip not in self._with_cases or nip in self._cases

    async def until_ready(self, nip: str, timeout: float) -> bool:
        """Have the next refresh load ``nip``'s cases if they are not kept, and wait up to ``timeout`` for it;
        whether they are there (and the index still current)."""
        if not self.ready(nip):
            self._wanted.add(nip)
            self.wake.set()
        return await self._until(lambda: self.ready(nip) and self.current, timeout)

    async def _until(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refreshed.wait(), left)
        return True

    def _refresh_done(self) -> None:
        # Wakes every read waiting now; later waits wait for a later refresh.
        self._refreshed.set()
        self._refreshed = asyncio.Event()

    # --- answers --------------------------------------------------------------------------------------------

    def answer(self, nip: str, scope: AgencyScope = EVERY_AGENCY) -> bytes:
        """The body of ``GET /v1/asn/{nip}/status`` (AsnStatus), of what ``scope`` lets the caller see; only
        for a NIP that is ``ready``."""
        if nip in self._cases:
            self._cases.move_to_end(nip)  # read most recently: kept longest
        if scope == EVERY_AGENCY:
            cached = self._answers.get(nip)
            if cached is None:
                cached = self._head(nip, scope)
                if nip in self._cases or nip in self._blocks:
                    if len(self._answers) >= ANSWERS_KEPT:  # bounded: start again rather than grow
                        self._answers.clear()
                    self._answers[nip] = cached
            return cached + self._tail
        return self._head(nip, scope) + self._tail

    def _head(self, nip: str, scope: AgencyScope) -> bytes:
        entries, blocks = scope.civil_servant(
            self._cases.get(nip, {}).values(), self._blocks.get(nip, {}).values(),
            block_case_of=lambda b: b[0]["case_id"],
        )
        entries.sort(key=lambda e: e.opened_at, reverse=True)
        entries.sort(key=lambda e: not e.open)  # stable: open first, newest first within each
        blocks.sort(key=lambda b: (b[1] is not None, b[1] or ""))  # as the database orders blocked_at
        body = orjson.dumps({"nip": nip, "blocked": bool(blocks), "blocks": [b[0] for b in blocks],
                             "open_cases": sum(1 for e in entries if e.open), "cases": [e.summary for e in entries]})
        return body[:-1] + b","

    # --- keeping current ------------------------------------------------------------------------------------

    def _put_case(self, row: CaseRow) -> None:
        self._with_cases.add(row.nip)
        old = self._case_nip.get(row.case_id)
        if old is not None and old != row.nip:
            self._cases.get(old, {}).pop(row.case_id, None)
            self._answers.pop(old, None)
            del self._case_nip[row.case_id]
        entries = self._cases.get(row.nip)
        if entries is None:
            return  # not kept: loaded with all its cases when it is read
        entries[row.case_id] = _case_entry(CaseStatus.model_validate_json(row.state))
        self._case_nip[row.case_id] = row.nip
        self._answers.pop(row.nip, None)

    def _keep(self, nip: str, rows: list[CaseRow]) -> None:
        """Keep ``rows``, every case of ``nip``, making room by dropping the least recently read."""
        if not rows:
            self._with_cases.discard(nip)  # its cases were retired
            return
        self._cases[nip] = {row.case_id: _case_entry(CaseStatus.model_validate_json(row.state)) for row in rows}
        self._case_nip.update((row.case_id, nip) for row in rows)
        while len(self._cases) > self.kept:
            dropped, entries = self._cases.popitem(last=False)
            for case_id in entries:
                self._case_nip.pop(case_id, None)
            self._answers.pop(dropped, None)

    def _drop_case(self, case_id: str) -> None:
        nip = self._case_nip.pop(case_id, None)
        if nip is None:
            return
        cases = self._cases.get(nip, {})
        cases.pop(case_id, None)
        if not cases:
            self._cases.pop(nip, None)
        self._answers.pop(nip, None)

    def _put_block(self, row: PersonnelBlock | None, block_id: str) -> None:
        old = self._block_nip.pop(block_id, None)
        if old is not None:
            blocks = self._blocks.get(old, {})
            blocks.pop(block_id, None)
            if not blocks:
                self._blocks.pop(old, None)
            self._answers.pop(old, None)
        if row is not None and row.lifted_at is None:
            since = row.blocked_at.isoformat() if row.blocked_at else None
            self._blocks.setdefault(row.nip, {})[block_id] = (_block_entry(row), since)
            self._block_nip[block_id] = row.nip
            self._answers.pop(row.nip, None)

    async def refresh(self, runtime) -> bool:  # noqa: ANN001 - the status Runtime
        """Bring the index up to what the database holds; whether anything had changed."""
        position_table = runtime.tables.consumer_position
        async with runtime.sessions() as session:
            if session.bind.dialect.name == "postgresql":
                # One snapshot for every read below: under READ COMMITTED each statement would see later
                # commits than the one before, and a case could show beside a position that predates it.
                # (SQLite: one connection per process, whose transaction is a snapshot already.)
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            if self._marks_query is None:
                self._marks_query = _marks(runtime)  # built once: a poll then skips building and keying it
            marks = (await session.execute(self._marks_query)).one()
            wanted, self._wanted = {nip for nip in self._wanted if not self.ready(nip)}, set()
            if self.loaded and marks == self._marks and not wanted:
                self._refresh_done()
                return False  # nothing an answer shows has changed: a poll costs one statement
            # The order of reads is what makes the answer honest: position first, the tree last.
            position = int(await session.scalar(select(position_table.c.stream_seq).where(
                position_table.c.consumer == runtime.name)) or 0)
            if not self.loaded:
                self.next_leaf = int(await session.scalar(select(ledger_tables.head.c.tree_size)) or 0)
                self._with_cases = set((await session.scalars(select(CaseRow.nip).distinct())).all())
                cases = []
                blocks = (await session.scalars(select(PersonnelBlock).where(PersonnelBlock.lifted_at.is_(None)))).all()
            else:
                changed = await _changed_since(session, self.next_leaf)
                case_ids = {row.subject for row in changed if row.event_type not in BLOCK_EVENTS}
                block_ids = {orjson.loads(row.envelope)["data"]["block_id"] for row in changed
                             if row.event_type in BLOCK_EVENTS}
                cases = [row for chunk in key_chunks(case_ids) for row in
                         (await session.scalars(select(CaseRow).where(CaseRow.case_id.in_(chunk)))).all()]
                blocks = [row for chunk in key_chunks(block_ids) for row in
                          (await session.scalars(select(PersonnelBlock).where(PersonnelBlock.block_id.in_(chunk)))).all()]
                if changed:
                    self.next_leaf = changed[-1].leaf_index + 1
            loaded: dict[str, list[CaseRow]] = {nip: [] for nip in wanted}
            for chunk in key_chunks(wanted):
                for row in (await session.scalars(select(CaseRow).where(CaseRow.nip.in_(chunk)))).all():
                    loaded[row.nip].append(row)
            checkpoint = await current_checkpoint(runtime, session)
        if not self.loaded:
            for row in blocks:
                self._put_block(row, row.block_id)
        else:
            for row in cases:
                self._put_case(row)
            for case_id in case_ids - {row.case_id for row in cases}:
                self._drop_case(case_id)  # retired (services/status/retirement.py)
            found = {row.block_id: row for row in blocks}
            for block_id in block_ids:
                self._put_block(found.get(block_id), block_id)
            for nip, rows in loaded.items():  # after the changes: read in the same snapshot, complete
                self._keep(nip, rows)
        self._tail = (b'"stream_position":' + str(position).encode() + b',"checkpoint":'
                      + orjson.dumps(checkpoint.model_dump(mode="json")) + b',"proofs":null}')
        self.tree_size = checkpoint.tree_size
        self._marks = marks
        if not self.loaded:
            set_aside_for_collector()
        self.loaded = True
        self._refresh_done()
        return True


async def _changed_since(session, next_leaf: int) -> list:  # noqa: ANN001
    """The leaves from ``next_leaf`` on, in order, with the subject and type of their events (and the envelope
    of block events, which name their block only inside). Read a chunk of leaves at a time by their index and
    their events by key: a join over both tables would be planned as two full scans wherever the database's
    statistics lag behind a fast-growing log (PostgreSQL without autovacuum, or a burst)."""
    leaves, events = ledger_tables.leaves, CaseRow.metadata.tables["events"]
    changed = []
    while True:
        chunk = (await session.execute(
            select(leaves.c.leaf_index, leaves.c.stream_seq).where(leaves.c.leaf_index >= next_leaf)
            .order_by(leaves.c.leaf_index).limit(_CHUNK)
        )).all()
        if not chunk:
            return changed
        found = {row.stream_seq: row for row in (await session.execute(
            select(events.c.stream_seq, events.c.subject, events.c.event_type,
                   case((events.c.event_type.in_(BLOCK_EVENTS), events.c.envelope), else_=None).label("envelope"))
            .where(events.c.stream_seq.in_([leaf.stream_seq for leaf in chunk]))
        ))}
        changed += [_Changed(leaf.leaf_index, found[leaf.stream_seq].subject, found[leaf.stream_seq].event_type,
                             found[leaf.stream_seq].envelope) for leaf in chunk]
        if len(chunk) < _CHUNK:
            return changed
        next_leaf = chunk[-1].leaf_index + 1


@dataclass(frozen=True)
class _Changed:
    leaf_index: int
    subject: str
    event_type: str
    envelope: str | None


def _marks(runtime):  # noqa: ANN001, ANN202
    """What changes whenever an answer would: the tree's size, the consumer's position, the checkpoints
    published and their co-signatures; read in one statement."""
    head, checkpoints, cosignatures = ledger_tables.head, ledger_tables.checkpoints, ledger_tables.cosignatures
    position = runtime.tables.consumer_position
    return select(
        select(head.c.tree_size).scalar_subquery(),
        select(position.c.stream_seq).where(position.c.consumer == runtime.name).scalar_subquery(),
        select(func.max(checkpoints.c.tree_size)).scalar_subquery(),
        select(func.count()).select_from(cosignatures).scalar_subquery(),
    )


async def keep_current(runtime, index: StatusIndex, poll_seconds: float) -> None:  # noqa: ANN001
    """Refresh ``index`` whenever this process appends a leaf, and at least every ``poll_seconds`` (every
    ``IDLE_POLL_SECONDS`` once nothing has changed for ``IDLE_AFTER_SECONDS``)."""
    last_change = time.monotonic()
    while True:
        index.wake.clear()
        try:
            if await index.refresh(runtime):
                last_change = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the database route answers meanwhile; try again shortly
            log.exception("status index: refresh failed")
            await asyncio.sleep(0.5)
            continue
        if not index.current and index.wake.is_set():
            continue
        idle = time.monotonic() - last_change > IDLE_AFTER_SECONDS
        try:
            await asyncio.wait_for(index.wake.wait(), timeout=max(poll_seconds, IDLE_POLL_SECONDS) if idle
                                   else poll_seconds)
        except TimeoutError:
            pass
