"""Async database access: one engine per service, SQLite by default, PostgreSQL (asyncpg) by URL.

The caller owns the transaction (``async with sessions.begin() as session``); helpers never commit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_sqlite_file(Path(parsed.database))
        # One connection per process: SQLite admits one writer at a time anyway (every transaction is
        # BEGIN IMMEDIATE), and queueing for the pool's connection is fair and wakes the next one at once,
        # where several connections would each sleep in SQLite's busy handler (up to 100 ms per retry)
        # and starve one another under load. Other processes still wait on the lock with busy_timeout.
        memory = not parsed.database or parsed.database == ":memory:"
        pool = {} if memory else {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60}
        engine = create_async_engine(url, connect_args={"timeout": 30}, **pool)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def private_sqlite_file(path: Path) -> None:
    """The database file (and its -wal and -shm, which SQLite makes with the file's own mode) readable by
    this user only, in a folder of its own made 0700; made empty here if need be, so it is never 0644."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            file.chmod(0o600)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers run beside the one writer; the driver's own BEGIN is replaced by
        # BEGIN IMMEDIATE so two writers queue on the lock instead of failing to upgrade it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        # What is deleted is overwritten with zeros, in the page and in pages set free, so that an erased
        # value (the reporter's wrapped data key) does not live on in the file's free space.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def upsert_insert(session: AsyncSession, table: Table) -> Any:  # the dialect's own Insert
    """An INSERT of the session's database that can say ON CONFLICT (PostgreSQL and SQLite both can)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


async def insert_ignoring_duplicates(session: AsyncSession, table: Table, values: dict[str, Any]) -> None:
    """INSERT that does nothing when the key exists (ON CONFLICT DO NOTHING on both databases)."""
    await session.execute(upsert_insert(session, table).values(**values).on_conflict_do_nothing())


def on_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the caller's transaction commits (never if it rolls back): for in-memory
    views that must not show what the database did not keep."""
    session.sync_session.info.setdefault(_ON_COMMIT, []).append(callback)


_ON_COMMIT = "sbt_on_commit"


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    for callback in session.info.pop(_ON_COMMIT, []):
        callback()


@event.listens_for(Session, "after_rollback")
def _forget_on_commit(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
