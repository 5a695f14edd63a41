"""Writing in bulk: statements with all their rows, collected from memory (``Write``) and run later in one
transaction, and inserting many rows at once through the database driver.

The status service writes four or five rows per event (the event, its leaf, its tree nodes, its case), so
how rows reach the database matters more than anything else it does:
- SQLAlchemy's per-row parameter handling costs more than the database's own work; rows here are tuples,
  converted column by column with the columns' own bind processors (dates, booleans, UTC times).
- On PostgreSQL a replay into fresh tables sends the rows by COPY (``COPY_ROWS``).
- On SQLite one INSERT carries many rows (up to 999 parameters): the driver releases Python's global lock
  around each statement it steps through, and getting it back once per row, while the event loop's thread
  is busy, costs far more than inserting the row. Other drivers (asyncpg) take the rows as one executemany.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, Table, Update, bindparam, insert, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

# A statement with its rows, collected from memory, to run in the transaction it is given.
Write = Callable[[AsyncSession], Awaitable[None]]

# Bound parameters per statement where one INSERT carries many rows: what every SQLite build accepts.
MAX_PARAMETERS = 999
# In a session whose ``info`` has this key set, rows go to PostgreSQL by COPY, several times faster than an
# executemany INSERT. Only for tables no one else writes meanwhile (a replay's fresh tables): a COPY's
# errors are the driver's own, not SQLAlchemy's IntegrityError that the live consumer's races rely on.
COPY_ROWS = "bulk-copy-rows"
# Keys per IN (...) query: far below any database's limit on bound parameters.
KEYS_PER_QUERY = 500


@dataclass(frozen=True)
class _Plan:
    sql: str  # the INSERT of one row, in the driver's own parameter style
    order: tuple[str, ...]  # the columns in the order its parameters come
    processors: tuple[Callable[[Any], Any] | None, ...]  # per column of ``order``
    values_prefix: str | None  # "INSERT ... VALUES " when rows can be repeated after it (qmark style)
    values_group: str | None  # "(?, ?, ...)"


_plans: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}


def _plan(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> _Plan:
    key = (dialect.name, table.name, columns)
    if key not in _plans:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        order = tuple(compiled.positiontup or ())
        if sorted(order) != sorted(columns):
            raise ValueError(f"cannot insert {table.name} rows positionally with {dialect.name}")
        processors = tuple(table.c[column].type.bind_processor(dialect) for column in order)
        prefix = group = None
        if dialect.paramstyle == "qmark" and " VALUES (" in compiled.string:
            head, _, tail = compiled.string.partition(" VALUES ")
            if tail == "(" + ", ".join("?" * len(order)) + ")":
                prefix, group = head + " VALUES ", tail
        _plans[key] = _Plan(compiled.string, order, processors, prefix, group)
    return _plans[key]


async def insert_rows(session: AsyncSession, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """INSERT ``rows`` (tuples in the order of ``columns``) into ``table``, in the session's transaction."""
    if not rows:
        return
    columns = tuple(columns)
    connection = await session.connection()
    plan = _plan(connection.dialect, table, columns)
    if plan.order != columns or any(plan.processors):
        index = [columns.index(column) for column in plan.order]
        processors = plan.processors
        rows = [tuple(value if process is None else process(value)
                      for process, value in zip(processors, (row[i] for i in index), strict=True)) for row in rows]
    if session.info.get(COPY_ROWS) and connection.dialect.driver == "asyncpg":
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=rows, columns=list(plan.order), schema_name=table.schema)
        return
    if plan.values_prefix is None:
        await connection.exec_driver_sql(plan.sql, rows)
        return
    per_statement = max(1, MAX_PARAMETERS // len(columns))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        sql = plan.values_prefix + ", ".join([plan.values_group] * len(chunk))
        await connection.exec_driver_sql(sql, tuple(value for row in chunk for value in row))


async def execute(session: AsyncSession, *, statement: Executable, rows: list[dict[str, Any]] | None = None) -> None:
    """``statement`` once, or once per row of ``rows`` (executemany), in the session's transaction."""
    if rows is None:
        await session.execute(statement)
    else:
        await session.execute(statement, rows)


def key_chunks(keys: Iterable[str]) -> list[list[str]]:
    """``keys`` in order, a query's worth (``KEYS_PER_QUERY``) at a time."""
    ordered = sorted(keys)
    return [ordered[start:start + KEYS_PER_QUERY] for start in range(0, len(ordered), KEYS_PER_QUERY)]


def update_by_key(table: Table, key: str, columns: Iterable[str]) -> Update:
    """An UPDATE of ``columns`` where ``key`` equals the bound ``key``, for executemany with rows of
    ``{"key": ..., "new_<column>": ...}``: bound names differ from the column names, which an executemany
    UPDATE may not reuse."""
    return update(table).where(table.c[key] == bindparam("key")).values(
        {column: bindparam(f"new_{column}") for column in columns})
