"""After an erasure commits, scrub what the database itself may still keep of the deleted key.

A committed DELETE is not yet gone from the disk. SQLite leaves the row's bytes in the page's free space
and in free pages unless ``secure_delete`` is on (it is on every connection, shared/db.py), and the
page as it was before the erasure stays in the write-ahead log until a checkpoint copies the new page
back; a checkpoint in TRUNCATE mode then empties the log file. PostgreSQL leaves the deleted row in the
table's heap, where even a plain VACUUM only marks its space free (the bytes stay until something else
is written over them), so the small table of wrapped keys is rewritten with VACUUM FULL, which makes a
new file without the row and drops the old one. VACUUM FULL still copies a deleted row that a running
transaction might see, so it waits first until every transaction of the database that began before
the erasure committed has ended (pg_stat_activity shows the other sessions of the same role).

Outside the reach of this: PostgreSQL's own write-ahead log and its archive, and backups taken before
the erasure; these must expire on their own schedule.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.intake.models import ReporterIdentityKey

log = structlog.get_logger("sbt.intake.erasure")

KEYS_TABLE = ReporterIdentityKey.__tablename__
_WAIT_SECONDS = 30
_POLL_SECONDS = 0.05

# Other sessions of this database whose snapshot is as old as the erasure's transaction, or older.
_OLDER_SNAPSHOTS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_xmin IS NOT NULL AND age(backend_xmin) >= age(CAST(:xid AS xid))"
)


async def erasing_transaction(session: AsyncSession) -> int | None:
    """The id of the erasure's own transaction on PostgreSQL (after its DELETE), for ``scrub``."""
    if session.bind.dialect.name != "postgresql":
        return None
    return await session.scalar(text("SELECT pg_current_xact_id()::text::bigint % 4294967296"))


async def scrub(engine: AsyncEngine, xid: int | None = None) -> None:
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            if xid is not None:
                await _wait_for_older_snapshots(autocommit, xid)
            await autocommit.exec_driver_sql(f"VACUUM FULL {KEYS_TABLE}")
        return
    async with engine.connect() as connection:
        # On the driver's connection itself, outside any transaction (a checkpoint cannot run inside one).
        raw = await connection.get_raw_connection()
        cursor = await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, _frames, _copied = await cursor.fetchone()
        await cursor.close()
    if busy:
        # Another process was reading: the log is not emptied now; the next checkpoint still overwrites
        # the old page in the database file, and the next erasure tries again.
        log.warning("wal checkpoint after erasure was blocked by a reader")


async def _wait_for_older_snapshots(connection, xid: int) -> None:  # noqa: ANN001
    for _ in range(int(_WAIT_SECONDS / _POLL_SECONDS)):
        if not await connection.scalar(_OLDER_SNAPSHOTS, {"xid": xid}):
            return
        await asyncio.sleep(_POLL_SECONDS)
    log.warning("a transaction older than the erasure is still running; the keys table is rewritten anyway")
