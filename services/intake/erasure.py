"""After an erasure commits, scrub what the database itself may still keep of the deleted key.

A committed DELETE is not yet gone from the disk. SQLite leaves the row's bytes in the page's free space
and in free pages unless ``secure_delete`` is on (it is on every connection, shared/db.py), and the
page as it was before the erasure stays in the write-ahead log until a checkpoint copies the new page
back; a checkpoint in TRUNCATE mode then empties the log file. PostgreSQL leaves the deleted row in the
table's heap, where even a plain VACUUM only marks its space free (the bytes stay until something else
is written over them), so the small table of wrapped keys is rewritten with VACUUM FULL, which makes a
new file without the row and drops the old one.

Outside the reach of this: PostgreSQL's own write-ahead log and its archive, and backups taken before
the erasure; these must expire on their own schedule.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.models import ReporterIdentityKey

log = structlog.get_logger("sbt.intake.erasure")

KEYS_TABLE = ReporterIdentityKey.__tablename__


async def scrub(engine: AsyncEngine) -> None:
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
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
