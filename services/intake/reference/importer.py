"""``sbt import``: loads reference files into intake's own database.

The roster (millions of rows) is streamed: a reader thread parses the file into batches of a few thousand
rows, at most two batches ahead of the writer, so memory stays flat whatever the file's size. Each batch is
one upsert in its own transaction; a re-import updates changed rows and leaves the others untouched, so an
interrupted import is finished by running it again. On PostgreSQL a batch is COPYed into a temporary table
and merged with ``INSERT ... ON CONFLICT DO UPDATE``; on SQLite it is one ``executemany``.

Agencies, elections and violations are small: the whole file is validated first and nothing is written if
any row is invalid. New or changed entries are upserted and their ``*.registered`` events staged in intake's
outbox in the same transaction; the running intake relay publishes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite
import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import messaging
from services.intake.reference.models import Agency, Election, Violation
from services.intake.reference.records import (
    REFERENCE_PARSERS,
    ROSTER_COLUMNS,
    FileFormatError,
    Kind,
    Rejections,
    RowError,
    file_format,
    iter_rows,
    parse_roster_row,
)
from shared.clock import Clock
from shared.db import create_engine, sessionmaker
from shared.events.base import EventData
from shared.messaging.outbox import Outbox

DEFAULT_BATCH_SIZE = 5000
# A batch is ~1 MB of tuples; two in the queue plus one being written bound the import's memory.
_QUEUE_DEPTH = 2

RosterRow = tuple[str, str, str, str | None, str | None, str | None, str]
Progress = Callable[["RosterReport"], None]


@dataclass
class RosterReport:
    rows_read: int = 0
    imported: int = 0  # valid rows sent to the database
    written: int = 0  # rows inserted or changed (the rest were already identical)
    duplicates: int = 0  # the same NIP again within one batch: the later row wins
    bytes_read: int = 0
    total_bytes: int = 0
    seconds: float = 0.0
    rejected: Rejections = field(default_factory=Rejections)

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0


@dataclass
class ReferenceReport:
    kind: str
    rows: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    events_staged: int = 0


class ImportRejected(Exception):
    """A reference file had invalid rows; nothing was written."""

    def __init__(self, rejected: Rejections) -> None:
        super().__init__(f"{rejected.count} invalid row(s); nothing imported")
        self.rejected = rejected


# --------------------------------------------------------------------------------------------- roster


@dataclass
class _Batch:
    rows: list[RosterRow]
    rows_read: int
    bytes_read: int
    duplicates: int


def _read_batches(path: Path, batch_size: int, rejected: Rejections) -> Iterator[_Batch]:
    fmt = file_format(path)
    with path.open("r", encoding="utf-8-sig", newline="") as stream:
        by_nip: dict[str, RosterRow] = {}
        rows_read = duplicates = 0
        for line, row in iter_rows(stream, fmt, "roster"):
            rows_read += 1
            try:
                parsed = parse_roster_row(row)
            except RowError as error:
                rejected.add(line, error)
                continue
            if parsed[0] in by_nip:
                duplicates += 1
            by_nip[parsed[0]] = parsed
            if len(by_nip) >= batch_size:
                # The text layer reads ahead of the parser; the byte position is close enough for progress.
                yield _Batch(list(by_nip.values()), rows_read, stream.buffer.tell(), duplicates)
                by_nip, duplicates = {}, 0
        yield _Batch(list(by_nip.values()), rows_read, path.stat().st_size, duplicates)


class _ReaderThread:
    """Parses the file on a thread, handing batches over through a small bounded queue."""

    _DONE = object()

    def __init__(self, batches: Iterator[_Batch]) -> None:
        self._batches = batches
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="roster-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for batch in self._batches:
                if not self._put(batch):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the writer, which re-raises it
            self._put(error)
            return
        self._put(self._DONE)

    async def next(self) -> _Batch | None:
        item = await asyncio.to_thread(self._queue.get)
        if item is self._DONE:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


_UPDATE_COLUMNS = ROSTER_COLUMNS[1:]


class _SqliteRoster:
    _SQL = (
        f"INSERT INTO roster ({', '.join(ROSTER_COLUMNS)}) VALUES ({', '.join('?' * len(ROSTER_COLUMNS))}) "
        "ON CONFLICT (nip) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in _UPDATE_COLUMNS)
        + " WHERE "
        + " OR ".join(f"roster.{c} IS NOT excluded.{c}" for c in _UPDATE_COLUMNS)
    )

    def __init__(self, url: str) -> None:
        self.path = make_url(url).database
        self.db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self.db = await aiosqlite.connect(self.path, isolation_level=None)
        # WAL and a busy timeout let a running intake keep serving (and writing) during the import.
        await self.db.execute("PRAGMA journal_mode=WAL")
        await self.db.execute("PRAGMA synchronous=NORMAL")
        await self.db.execute("PRAGMA busy_timeout=30000")

    async def write(self, rows: list[RosterRow]) -> int:
        assert self.db is not None
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            before = self.db.total_changes
            await self.db.executemany(self._SQL, rows)
            written = self.db.total_changes - before
            await self.db.execute("COMMIT")
        except BaseException:
            await self.db.execute("ROLLBACK")
            raise
        return written

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()


class _PostgresRoster:
    _MERGE = (
        f"INSERT INTO roster ({', '.join(ROSTER_COLUMNS)}) SELECT {', '.join(ROSTER_COLUMNS)} FROM roster_load "
        "ON CONFLICT (nip) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATE_COLUMNS)
        + f" WHERE ({', '.join(f'roster.{c}' for c in _UPDATE_COLUMNS)}) IS DISTINCT FROM "
        f"({', '.join(f'EXCLUDED.{c}' for c in _UPDATE_COLUMNS)})"
    )

    def __init__(self, url: str) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.connection: asyncpg.Connection | None = None

    async def open(self) -> None:
        self.connection = await asyncpg.connect(self.dsn)
        await self.connection.execute(
            "CREATE TEMPORARY TABLE roster_load (LIKE roster INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )

    async def write(self, rows: list[RosterRow]) -> int:
        assert self.connection is not None
        async with self.connection.transaction():
            await self.connection.copy_records_to_table("roster_load", records=rows, columns=ROSTER_COLUMNS)
            status = await self.connection.execute(self._MERGE)
        return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 <inserted or updated>"

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


def _roster_writer(url: str) -> _SqliteRoster | _PostgresRoster:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _SqliteRoster(url)
    if backend == "postgresql":
        return _PostgresRoster(url)
    raise ValueError(f"unsupported database for the roster import: {backend}")


async def import_roster(
    url: str, path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
) -> RosterReport:
    """Streams a roster file into ``roster``; the database must be migrated already."""
    file_format(path)  # refuse an unknown extension before touching the database
    report = RosterReport(total_bytes=path.stat().st_size)
    writer = _roster_writer(url)
    reader = _ReaderThread(_read_batches(path, batch_size, report.rejected))
    started = time.perf_counter()
    await writer.open()
    reader.start()
    try:
        while (batch := await reader.next()) is not None:
            if batch.rows:
                report.written += await writer.write(batch.rows)
            report.imported += len(batch.rows)
            report.duplicates += batch.duplicates
            report.rows_read = batch.rows_read
            report.bytes_read = batch.bytes_read
            report.seconds = time.perf_counter() - started
            if progress is not None:
                progress(report)
    finally:
        reader.stop()
        await writer.close()
    report.seconds = time.perf_counter() - started
    return report


# ------------------------------------------------------------------------------------ reference data


_TABLES = {"agencies": Agency, "elections": Election, "violations": Violation}


def read_reference(kind: Kind, path: Path) -> list[EventData]:
    """Every row of a reference file as its event; raises ``ImportRejected`` if any row is invalid."""
    parse = REFERENCE_PARSERS[kind]
    rejected = Rejections()
    entries: dict[str, EventData] = {}
    with path.open("r", encoding="utf-8-sig", newline="") as stream:
        for line, row in iter_rows(stream, file_format(path), kind):
            try:
                entry = parse(row)
            except RowError as error:
                rejected.add(line, error)
                continue
            if entry.code in entries:
                rejected.add(line, RowError("code", f"{entry.code} appears twice in the file"))
                continue
            entries[entry.code] = entry
    if rejected.count:
        raise ImportRejected(rejected)
    return list(entries.values())


def _as_row_values(entry: EventData) -> dict:
    values = entry.model_dump()
    for name in ("voting_date", "oversight_from", "oversight_until"):
        if name in values:
            values[name] = dt.date.fromisoformat(values[name])
    return values


def _current(row: object, columns: list[str]) -> dict:
    return {column: getattr(row, column) for column in columns}


async def upsert_reference(
    session: AsyncSession, outbox: Outbox | None, kind: Kind, entries: list[EventData]
) -> ReferenceReport:
    """Upserts the entries and stages one event per new or changed entry, in the caller's transaction
    (``outbox`` None: the tables only, for a test's fixture that must not add events to the stream)."""
    table = _TABLES[kind]
    report = ReferenceReport(kind=kind, rows=len(entries))
    existing = {row.code: row for row in (await session.scalars(select(table))).all()}
    for entry in entries:
        values = _as_row_values(entry)
        row = existing.get(entry.code)
        if row is None:
            session.add(table(**values))
            report.new += 1
        elif _current(row, list(values)) != values:
            for column, value in values.items():
                setattr(row, column, value)
            report.changed += 1
        else:
            report.unchanged += 1
            continue
        if outbox is not None:
            await outbox.stage(session, entry, subject=entry.code)
            report.events_staged += 1
    await session.flush()
    return report


async def import_reference(url: str, kind: Kind, path: Path, *, clock: Clock | None = None) -> ReferenceReport:
    """Validates the whole file, then upserts it and stages its events in one transaction."""
    if kind not in _TABLES:
        raise FileFormatError(f"unknown reference kind {kind}")
    entries = read_reference(kind, path)
    engine = create_engine(url)
    try:
        outbox = Outbox(messaging, "intake", **({"clock": clock.now} if clock is not None else {}))
        async with sessionmaker(engine).begin() as session:
            return await upsert_reference(session, outbox, kind, entries)
    finally:
        with contextlib.suppress(Exception):
            await engine.dispose()
