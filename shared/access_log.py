"""Attributable requests: who (client, agency, roles), what (method, route, status), when, from where.

In a service whose metadata has the ``access_log`` table (``access_log_table(Base.metadata)`` in its
models, plus a migration) every request becomes one row that admins read at ``GET /v1/ops/access-log``;
rows are written in batches by a background task every ``SBT_ACCESS_LOG_FLUSH_SECONDS``, so a busy read
path (BKN asking "is this NIP blocked?") pays neither a database write nor a formatted log line per
request. (A process killed outright loses the entries of that last fraction of a second.) A service
without the table writes one structured log line per request instead.

Successful reads (a GET answered 2xx) are most of the traffic and alike: within one second, those of one
client, from one address, on one route with one answer are one row, which says how many ``requests`` it
stands for (with the first one's time and trace id and the slowest one's duration). Every write, every
refusal and every error keeps a row of its own, so what an investigation looks for is never merged.

What is logged is the route *template* (``/v1/asn/{nip}/status``), never the raw path, and never a body
or a query string: a NIP, a complaint number or a reporter's name never lands in the access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import UtcDateTime, utcnow
from shared.messaging.tables import AutoId
from shared.observability import current_traceparent, trace_id_of

log = logging.getLogger("sbt.access")
access_lines = structlog.get_logger("sbt.access")

TABLE_NAME = "access_log"
_MAX_BUFFER = 10_000
_CHUNK = 200


def access_log_table(metadata: MetaData) -> Table:
    return Table(
        TABLE_NAME,
        metadata,
        Column("id", AutoId, primary_key=True, autoincrement=True),
        Column("at", UtcDateTime, nullable=False),
        Column("client_id", String(100), nullable=True),
        Column("agency", String(40), nullable=True),
        Column("roles", String(200), nullable=True),
        Column("method", String(10), nullable=False),
        Column("route", String(200), nullable=False),
        Column("status", Integer, nullable=False),
        Column("client_ip", String(64), nullable=True),
        Column("trace_id", String(32), nullable=True),
        Column("duration_ms", Integer, nullable=False),
        Column("requests", Integer, nullable=False, server_default="1"),
        Index("ix_access_log_at", "at"),
        Index("ix_access_log_client", "client_id"),
    )


def route_template(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    # An unmatched path is not echoed: it could carry anything a caller typed.
    return str(path) if path else "(unmatched)"


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def entry_for(request: Request, status: int, started: float) -> dict[str, Any]:
    return entry(
        actor=getattr(request.state, "actor", None), method=request.method, route=route_template(request),
        status=status, client_ip=client_ip(request), trace_id=trace_id_of(current_traceparent()), started=started,
    )


def entry(*, actor: object | None, method: str, route: str, status: int, client_ip: str | None,
          trace_id: str | None, started: float) -> dict[str, Any]:
    """One access entry; also for a plain-ASGI path in front of the app (intake's report filing)."""
    return {
        "at": utcnow(),
        "client_id": getattr(actor, "client_id", None),
        "agency": getattr(actor, "agency", None),
        "roles": ",".join(sorted(getattr(actor, "roles", ()) or ())) or None,
        "method": method[:10],
        "route": route[:200],
        "status": status,
        "client_ip": client_ip,
        "trace_id": trace_id,
        "duration_ms": int((time.perf_counter() - started) * 1000),
    }


class AccessLog:
    """Buffers access entries and writes them to the service's ``access_log`` table in batches."""

    def __init__(self, table: Table | None, flush_seconds: float = 0.5) -> None:
        self.table = table
        self.flush_seconds = flush_seconds
        self._buffer: list[dict[str, Any]] = []
        self._reads: dict[tuple[Any, ...], dict[str, Any]] = {}  # the buffered rows of successful reads, by second and kind
        self._wake = asyncio.Event()
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self.dropped = 0

    def record(self, entry: dict[str, Any]) -> None:
        if self.table is None or self._sessions is None:
            # No table (or not started yet): the log line is the record.
            access_lines.info("access", **{**entry, "at": entry["at"].isoformat()})
            return
        routine = entry["method"] == "GET" and 200 <= entry["status"] < 300
        if routine:
            key = (int(entry["at"].timestamp()), entry["client_id"], entry["agency"], entry["roles"], entry["route"],
                   entry["status"], entry["client_ip"])
            row = self._reads.get(key)
            if row is not None:
                row["requests"] += 1
                row["duration_ms"] = max(row["duration_ms"], entry["duration_ms"])
                return
        if len(self._buffer) >= _MAX_BUFFER:  # the database is down: keep serving, count what is lost
            self.dropped += 1
            return
        entry["requests"] = 1
        self._buffer.append(entry)
        if routine:
            self._reads[key] = entry

    async def run(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        if self.table is None:
            return
        try:
            while True:
                await asyncio.sleep(self.flush_seconds)
                await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await self.flush()

    async def flush(self) -> None:
        if not self._buffer or self._sessions is None or self.table is None:
            return
        batch, self._buffer, self._reads = self._buffer, [], {}  # later reads start rows of their own
        # In small transactions with a pause between them: preparing thousands of rows at once holds the
        # event loop for tens of milliseconds, which every request waiting behind it would pay.
        for start in range(0, len(batch), _CHUNK):
            chunk = batch[start:start + _CHUNK]
            try:
                async with self._sessions.begin() as session:
                    await session.execute(insert(self.table), chunk)
            except Exception:  # noqa: BLE001 - retry on the next tick
                rest = batch[start:]
                log.warning("access log: could not write %d entries, retrying", len(rest))
                self._buffer[:0] = rest[: _MAX_BUFFER - len(self._buffer)]
                return
            await asyncio.sleep(0)


_UNLOGGED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AccessLogMiddleware:
    """Records one access entry per request once it is answered. Plain ASGI: a ``BaseHTTPMiddleware``
    would run every request in an extra task with its own streams, a large share of a fast request."""

    def __init__(self, app: ASGIApp, access_log: AccessLog) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in _UNLOGGED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            # The route and the authenticated actor were put on the (shared) scope by the router and
            # the permission dependency.
            self.access_log.record(entry_for(Request(scope), status, started))


class AccessEntry(BaseModel):
    id: int
    at: dt.datetime
    client_id: str | None
    agency: str | None
    roles: list[str]
    method: str
    route: str
    status: int
    client_ip: str | None
    trace_id: str | None
    duration_ms: int = Field(description="The slowest of the requests this entry stands for.")
    requests: int = Field(description="How many requests this entry stands for: successful reads (GET, 2xx) of "
                          "one client from one address on one route within one second are one entry; every "
                          "write, refusal and error is an entry of its own.")


class AccessPage(BaseModel):
    entries: list[AccessEntry] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as `before` to read the next (older) page.")


def access_log_router(table: Table, permission_dependency: Callable[..., Any]) -> APIRouter:
    router = APIRouter(prefix="/v1/ops", tags=["ops"])

    @router.get("/access-log", response_model=AccessPage, summary="Who did what, when and from where",
                dependencies=[Depends(permission_dependency)])
    async def read_access_log(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before: Annotated[int | None, Query(ge=1, le=2**62, description="entries older than this id")] = None,
        client_id: Annotated[str | None, Query(max_length=100)] = None,
    ) -> AccessPage:
        runtime = request.app.state.runtime
        # What is still in the buffer is written first, so a reader sees its own earlier requests.
        await request.app.state.access_log.flush()
        query = select(table).order_by(table.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(table.c.id < before)
        if client_id is not None:
            query = query.where(table.c.client_id == client_id)
        async with runtime.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        entries = [
            AccessEntry(**{**row, "roles": row["roles"].split(",") if row["roles"] else []}) for row in rows
        ]
        return AccessPage(entries=entries, next_before=entries[-1].id if len(entries) == limit else None)

    return router


def install(app: FastAPI, metadata: MetaData, flush_seconds: float, permission_dependency: Callable[..., Any]) -> AccessLog:
    """The middleware always; the table writer and the admin route where the service has the table.

    Install it before the trace middleware so that it runs inside it and sees the request's trace id.
    """
    access_log = AccessLog(metadata.tables.get(TABLE_NAME), flush_seconds)
    app.state.access_log = access_log
    app.add_middleware(AccessLogMiddleware, access_log=access_log)
    if access_log.table is not None:
        app.include_router(access_log_router(access_log.table, permission_dependency))
    return access_log
