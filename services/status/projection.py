"""The status service's read model for a run of events, folded in memory and written in bulk: the events as
logged, one row per case (its status, folded with the shared pure ``apply``) and the personnel blocks.

What a run touches is loaded with one query per table (``load``), each event is folded in memory
(``record``), and ``flush`` writes it all back with one statement per table and kind (insert or update).
The live consumer uses one projection per transaction; a replay into fresh tables keeps one for its whole
run, so that a case's later events find its status in memory, and flushes it with every commit.

Blocks are keyed by block id and independent of order: an unblock that arrives before its block (replicas
sharing the consumer) leaves a lifted row that the late block only fills in, never reactivates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.status import bulk, stats
from services.status.models import CaseRow, LoggedEvent, PersonnelBlock
from shared.db import utcnow
from shared.events import Envelope
from shared.status_model import CaseStatus, StatusDraft, apply_in_place

BLOCKED = "sbt.personnel.blocked.v1"
UNBLOCKED = "sbt.personnel.unblocked.v1"
BLOCK_EVENTS = frozenset({BLOCKED, UNBLOCKED})

_EVENTS = LoggedEvent.__table__
EVENT_COLUMNS = ("stream_seq", "event_id", "event_type", "producer", "producerseq", "subject", "time", "hash",
                 "prevhash", "envelope")
_CASES = CaseRow.__table__
_BLOCKS = PersonnelBlock.__table__


def refuse_if_misfiled(envelope: Envelope) -> None:
    """An event about one case filed under another would corrupt both timelines: refused (ValueError)."""
    case_id = envelope.data.get("case_id")
    if case_id is not None and case_id != envelope.subject:
        raise ValueError(f"event {envelope.id}: subject {envelope.subject} is not its case {case_id}")


@dataclass
class _Case:
    state: StatusDraft | None  # None: the case has no row
    last_stream_seq: int
    stored: bool  # its row is in the database
    changed: bool = False


@dataclass
class _Block:
    values: dict[str, Any]
    stored: bool
    changed: bool = False


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Projection:
    def __init__(self, *, fresh: bool = False, max_cases_kept: int = 0,
                 before_read: Callable[[], Awaitable[None]] | None = None) -> None:
        """``fresh``: the database holds only what this projection wrote (a replay into fresh tables), so
        what is not in memory does not exist. ``max_cases_kept``: how many case statuses a long run keeps in
        memory between flushes (0: all); beyond it they are dropped and read back when needed.
        ``before_read``: awaited before the projection reads the database (a replay that writes in the
        background waits there for what it collected to be committed)."""
        self.cases: dict[str, _Case] = {}
        self.blocks: dict[str, _Block] = {}
        self._events: list[tuple[Any, ...]] = []
        # Events logged but not yet written, per subject: a refold reads them beside the written ones.
        self._unwritten: dict[str, list[tuple[int, Envelope]]] = {}
        self._all_cases_in_memory = fresh  # with ``_dropped``: every stored case is one or the other
        self._dropped: set[str] = set()  # cases written, then dropped from memory (fresh projections)
        self._all_blocks_in_memory = fresh
        self._max_cases_kept = max_cases_kept
        self._before_read = before_read

    # --- reading what a batch touches ---------------------------------------------------------------------

    async def load(self, session: AsyncSession, envelopes: Iterable[Envelope]) -> None:
        """Read the case rows and blocks ``envelopes`` touch that are not in memory yet, one query each."""
        envelopes = list(envelopes)
        # Membership tests, not set differences with the keys: those would copy every key in memory.
        await self._load_cases(session, {e.subject for e in envelopes if e.subject not in self.cases})
        await self._load_blocks(session, {e.data["block_id"] for e in envelopes
                                          if e.type in BLOCK_EVENTS and e.data["block_id"] not in self.blocks})

    async def _load_cases(self, session: AsyncSession, case_ids: set[str]) -> None:
        if not case_ids:
            return
        stored = case_ids if not self._all_cases_in_memory else case_ids & self._dropped
        if stored:
            await self._ready_to_read()
            for chunk in bulk.key_chunks(stored):
                rows = await session.execute(
                    select(_CASES.c.case_id, _CASES.c.state, _CASES.c.last_stream_seq)
                    .where(_CASES.c.case_id.in_(chunk)).with_for_update()
                )
                for row in rows:
                    self.cases[row.case_id] = _Case(StatusDraft(CaseStatus.model_validate_json(row.state)),
                                                    row.last_stream_seq, stored=True)
        for case_id in case_ids:
            if case_id not in self.cases:
                self.cases[case_id] = _Case(None, 0, stored=False)

    async def _load_blocks(self, session: AsyncSession, block_ids: set[str]) -> None:
        if not block_ids:
            return
        if not self._all_blocks_in_memory:
            await self._ready_to_read()
            for chunk in bulk.key_chunks(block_ids):
                rows = await session.execute(select(_BLOCKS).where(_BLOCKS.c.block_id.in_(chunk)).with_for_update())
                for row in rows.mappings():
                    self.blocks[row["block_id"]] = _Block(dict(row), stored=True)

    async def _ready_to_read(self) -> None:
        if self._before_read is not None:
            await self._before_read()

    # --- folding --------------------------------------------------------------------------------------------

    async def record(self, session: AsyncSession, envelope: Envelope, stream_seq: int) -> None:
        """Log ``envelope`` and fold it into its case's status and the blocks it names."""
        refuse_if_misfiled(envelope)
        self._log(envelope, stream_seq)
        if envelope.type in BLOCK_EVENTS:
            await self._project_block(session, envelope)
        if envelope.subject not in self.cases:  # e.g. a parked event applied after its predecessor
            await self._load_cases(session, {envelope.subject})
        case = self.cases[envelope.subject]
        if case.state is None or stream_seq > case.last_stream_seq:
            # Folded in place: a case's status is made once per flush, not copied per event.
            after, changed = apply_in_place(case.state, envelope)
        else:
            # Replicas sharing the consumer may apply a case's events out of stream order: fold the case
            # again from its logged events in stream order, so the result never depends on who was first.
            after = await self._refold(session, envelope.subject)
            changed = after is not None
        if after is None or not changed:
            return
        case.state = after
        case.last_stream_seq = max(stream_seq, case.last_stream_seq)
        case.changed = True

    def _log(self, envelope: Envelope, stream_seq: int) -> None:
        self._events.append((  # in the order of EVENT_COLUMNS
            stream_seq, envelope.id, envelope.type, envelope.producer, envelope.producerseq or 0, envelope.subject,
            envelope.time, envelope.hash or "", envelope.prevhash or "", envelope.model_dump_json(exclude_none=True),
        ))
        self._unwritten.setdefault(envelope.subject, []).append((stream_seq, envelope))

    async def _refold(self, session: AsyncSession, subject: str) -> StatusDraft | None:
        await self._ready_to_read()
        written = await session.execute(
            select(_EVENTS.c.stream_seq, _EVENTS.c.envelope).where(_EVENTS.c.subject == subject)
        )
        # A retired case's events are cut down to their hashes (services/status/retirement.py): nothing to fold.
        logged = [(row.stream_seq, Envelope.model_validate_json(row.envelope)) for row in written
                  if not row.envelope.startswith('{"redacted":true')]
        logged += self._unwritten.get(subject, [])
        status: StatusDraft | None = None
        for _, envelope in sorted(logged, key=lambda pair: pair[0]):
            status, _ = apply_in_place(status, envelope)
        return status

    async def _project_block(self, session: AsyncSession, envelope: Envelope) -> None:
        data = envelope.data
        block_id = data["block_id"]
        if block_id not in self.blocks:
            await self._load_blocks(session, {block_id})
        block = self.blocks.get(block_id)
        if block is None:
            block = self.blocks[block_id] = _Block(
                {"block_id": block_id, "nip": data["nip"], "case_id": data.get("case_id"), "agency_code": None,
                 "cause": None, "reason": None, "blocked_at": None, "lifted_at": None, "lift_cause": None,
                 "lift_reason": None},
                stored=False,
            )
        if envelope.type == BLOCKED:
            block.values.update(agency_code=data.get("agency_code"), cause=data["cause"], reason=data["reason"],
                                blocked_at=_moment(data["blocked_at"]))
        else:
            block.values.update(lifted_at=_moment(data["unblocked_at"]), lift_cause=data["cause"],
                                lift_reason=data["reason"])
        block.changed = True

    # --- writing --------------------------------------------------------------------------------------------

    async def flush(self, session: AsyncSession) -> None:
        """Write what changed since the last flush, in the caller's transaction."""
        for write in self.collect():
            await write(session)

    def collect(self) -> list[bulk.Write]:
        """What changed since the last collection, as statements with their rows, to run in one transaction
        (in order); from here on the projection counts it as written."""
        writes: list[bulk.Write] = []
        if self._events:
            writes.append(partial(bulk.insert_rows, table=_EVENTS, columns=EVENT_COLUMNS, rows=self._events))
            self._events, self._unwritten = [], {}
        writes += self._collect_cases()
        writes += self._collect_blocks()
        return writes

    def _collect_cases(self) -> list[bulk.Write]:
        writes: list[bulk.Write] = []
        changed = [(case_id, case) for case_id, case in self.cases.items() if case.changed]
        if changed:
            now = utcnow()
            new = [{"case_id": case_id, **_case_columns(case, now)} for case_id, case in changed if not case.stored]
            known = [{"key": case_id, **{f"new_{k}": v for k, v in _case_columns(case, now).items()}}
                     for case_id, case in changed if case.stored]
            if new:
                columns = tuple(new[0])
                writes.append(partial(bulk.insert_rows, table=_CASES, columns=columns,
                                      rows=[tuple(row.values()) for row in new]))
            if known:
                writes.append(partial(bulk.execute, statement=_UPDATE_CASE, rows=known))
            for _, case in changed:
                case.stored, case.changed = True, False
        if self._max_cases_kept and len(self.cases) > self._max_cases_kept:
            if self._all_cases_in_memory:  # remember which cases are stored, to read back only those
                self._dropped.update(case_id for case_id, case in self.cases.items() if case.stored)
            self.cases.clear()
        return writes

    def _collect_blocks(self) -> list[bulk.Write]:
        changed = [block for block in self.blocks.values() if block.changed]
        new = [dict(block.values) for block in changed if not block.stored]
        known = [{"key": block.values["block_id"], **{f"new_{k}": v for k, v in block.values.items() if k != "block_id"}}
                 for block in changed if block.stored]
        for block in changed:
            block.stored, block.changed = True, False
        return ([partial(bulk.execute, statement=insert(_BLOCKS), rows=new)] if new else []) + \
            ([partial(bulk.execute, statement=_UPDATE_BLOCK, rows=known)] if known else [])


def _case_columns(case: _Case, now: dt.datetime) -> dict[str, Any]:
    assert case.state is not None  # only cases with a status are ever written
    state = case.state.status()
    return {
        "nip": state.nip, "election_code": state.election_code, "agency_code": state.agency_code,
        "province": state.province, "stage": state.stage.value, "state": state.model_dump_json(),
        **stats.columns_of(state), "last_stream_seq": case.last_stream_seq, "updated_at": now,
    }


_UPDATE_CASE = bulk.update_by_key(_CASES, "case_id", [c.name for c in _CASES.columns if c.name != "case_id"])
_UPDATE_BLOCK = bulk.update_by_key(_BLOCKS, "block_id", [c.name for c in _BLOCKS.columns if c.name != "block_id"])
