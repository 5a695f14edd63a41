"""What every service process has in common: the runtime (database, bus, outbox relay, consumer) and the
FastAPI app around it, with health checks, problem bodies, a body-size limit and trace propagation.

A service supplies a ``ServiceSpec``: its name, its tables, its routers and its event handlers. A service
that publishes and consumes no events (``uses_bus=False``, e.g. identity) runs without the bus: no NATS
connection, outbox relay, consumer or dead-letter endpoints, and its /readyz checks only its database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import access_log, openapi_problems, ops
from shared.auth import TokenVerifier, require
from shared.bus import Bus
from shared.calendar import WorkingCalendar
from shared.clock import clock_from_settings
from shared.db import create_engine, sessionmaker
from shared.docs import HTML_PATHS as DOCS_PATHS
from shared.docs import install_docs
from shared.events.signing import producer_keys_from_settings, signing_key_from_settings
from shared.memory import set_aside_for_collector
from shared.messaging.consumer import Consumer, HandlerTable
from shared.messaging.outbox import Outbox, Relay
from shared.messaging.tables import MessagingTables
from shared.metrics import install_metrics
from shared.migrations import upgrade
from shared.observability import continue_trace
from shared.problems import BodySizeLimit, install_problem_handlers, problem_response
from shared.security_headers import SecurityHeaders
from shared.settings import SERVICES_WITHOUT_BUS, BusSettings, ServiceSettings
from shared.write_limit import TABLE_NAME as WRITE_RATE_TABLE
from shared.write_limit import WriteLimiter

log = logging.getLogger("sbt.service")


@dataclass
class ServiceSpec:
    name: str
    title: str
    description: str
    metadata: MetaData
    # The outbox, inbox and dead-letter tables; None for a service that does not use the bus.
    messaging: MessagingTables | None = None
    routers: list[APIRouter] = field(default_factory=list)
    # Built with the runtime, because handlers that emit events need its outbox.
    handlers: Callable[["Runtime"], HandlerTable] = lambda _runtime: {}
    # Optional long-running work of the service (e.g. the sanction service's periodic deadline sweep),
    # started after migrations and the bus, cancelled on shutdown.
    background: Callable[["Runtime"], Coroutine[Any, Any, None]] | None = None
    version: str = "1.0.0"
    # False for a service that publishes and consumes no events; it must then be listed in
    # SERVICES_WITHOUT_BUS, which is what keeps a NATS user from being made for it.
    uses_bus: bool = True

    def __post_init__(self) -> None:
        if self.uses_bus == (self.name in SERVICES_WITHOUT_BUS):
            raise ValueError(f"{self.name}: uses_bus={self.uses_bus} disagrees with SERVICES_WITHOUT_BUS")
        if self.uses_bus and self.messaging is None:
            raise ValueError(f"{self.name}: a service on the bus needs its messaging tables")


class Runtime:
    """The live parts of one service process."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        self.spec = spec
        self.name = spec.name
        self.settings = settings
        self.database_url = settings.database_url_for(spec.name)
        self.engine = create_engine(self.database_url)
        self.sessions = sessionmaker(self.engine)
        self.tables = spec.messaging
        self.clock = clock_from_settings(settings.clock_fixed)
        self.calendar = WorkingCalendar(settings.extra_days_off)
        # Per-process parts a service adds for itself (e.g. blocking's in-memory block index).
        self.extensions: dict[str, object] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self.bus: Bus | None = None
        self.outbox: Outbox | None = None
        self.relay: Relay | None = None
        self.consumer: Consumer | None = None
        if spec.uses_bus:
            self._wire_bus(spec, settings)

    # The bus parts of a service on the bus; asking a service without one is a programming error.
    @property
    def messaging(self) -> MessagingTables:
        if self.tables is None:
            raise RuntimeError(f"{self.name} is not on the bus: it has no messaging tables")
        return self.tables

    @property
    def live_bus(self) -> Bus:
        if self.bus is None:
            raise RuntimeError(f"{self.name} is not on the bus")
        return self.bus

    @property
    def live_relay(self) -> Relay:
        if self.relay is None:
            raise RuntimeError(f"{self.name} is not on the bus: it has no relay")
        return self.relay

    def _wire_bus(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        if not isinstance(settings, BusSettings):
            raise TypeError(f"{spec.name} is on the bus, but its settings have no bus part (BusSettings)")
        self.bus = Bus(settings, spec.name)
        self.outbox = Outbox(self.messaging, spec.name, clock=self.clock.now)
        self.producer_keys = producer_keys_from_settings(settings)
        self.relay = Relay(
            sessions=self.sessions,
            tables=self.messaging,
            bus=self.bus,
            producer=spec.name,
            signing_key=signing_key_from_settings(settings, spec.name),
            batch_size=settings.relay_batch_size,
            sweep_seconds=settings.relay_sweep_seconds,
            lease_seconds=settings.relay_lease_seconds,
        )
        handlers = spec.handlers(self)
        self.consumer = (
            Consumer(
                name=spec.name,
                sessions=self.sessions,
                tables=self.messaging,
                bus=self.bus,
                handlers=handlers,
                keys=self.producer_keys,
                batch_size=settings.consumer_batch_size,
                max_deliver=settings.consumer_max_deliver,
                retry_delay=settings.consumer_retry_delay_seconds,
                ack_wait=settings.redelivery_seconds,
                after_commit=self.relay.wake,
            )
            if handlers
            else None
        )

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on error, then wakes the relay."""
        async with self.sessions.begin() as session:
            yield session
        if self.relay is not None:
            self.relay.wake()

    async def start(self) -> None:
        await asyncio.to_thread(upgrade, self.name, self.database_url)
        if self.bus is not None:
            await self._start_bus()
        if self.spec.background is not None:
            self._tasks.append(asyncio.create_task(self.spec.background(self), name=f"{self.name}-background"))

    async def _start_bus(self) -> None:
        bus = self.live_bus
        await bus.connect()
        if bus.connected:
            with contextlib.suppress(Exception):
                await bus.ensure_stream()
        self._tasks.append(asyncio.create_task(self.live_relay.run(), name=f"{self.name}-relay"))
        if self.consumer is not None:
            self._tasks.append(asyncio.create_task(self.consumer.run(), name=f"{self.name}-consumer"))

    async def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self.consumer is not None:
            self.consumer.stop()
        # Let the consumer finish the batch in hand (or its fetch) rather than cut it off; what it has
        # not finished when cancelled, it gives back.
        consuming = [task for task in self._tasks if task.get_name() == f"{self.name}-consumer"]
        if consuming:
            await asyncio.wait(consuming, timeout=2)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.relay is not None:
            with contextlib.suppress(Exception):  # a database gone by now: the lease runs out on its own
                await self.relay.release_lease()
        if self.bus is not None:
            await self.bus.close()
        await self.engine.dispose()

    async def database_ready(self) -> bool:
        try:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001
            return False


class TraceMiddleware:
    """Continues the caller's trace (or starts one) for the request and returns its ``traceparent``.
    Plain ASGI, so the request runs in the same task and its log lines and staged events see the trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        traceparent = continue_trace(Headers(scope=scope).get("traceparent"))

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["traceparent"] = traceparent
            await send(message)

        await self.app(scope, receive, send_with_trace)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def create_service_app(spec: ServiceSpec, settings: ServiceSettings) -> FastAPI:

    # Every service limits its clients' writes (shared/write_limit.py): its models must hold the table.
    write_rate = spec.metadata.tables.get(WRITE_RATE_TABLE)
    if write_rate is None:
        raise ValueError(f"{spec.name}: the service's metadata lacks the {WRITE_RATE_TABLE} table (write_rate_table)")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(spec, settings)
        app.state.runtime = runtime
        app.state.write_limiter = WriteLimiter(write_rate, runtime.sessions, rate_per_minute=settings.write_rate_per_minute,
                                               burst=settings.write_burst)
        await runtime.start()
        access_writer = asyncio.create_task(app.state.access_log.run(runtime.sessions), name="access-log")
        set_aside_for_collector()
        try:
            yield
        finally:
            access_writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await access_writer
            await runtime.stop()


    # The OpenAPI pages are served from packaged files (shared/docs.py), not FastAPI's CDN-loading ones.
    app = FastAPI(title=spec.title, description=spec.description, version=spec.version, lifespan=lifespan,
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    install_docs(app)
    openapi_problems.install(app)
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    # Inside the trace middleware (added after it), so each access entry carries the request's trace id.
    access_log.install(app, spec.metadata, settings.access_log_flush_seconds, require("ops:read"))

    app.add_middleware(TraceMiddleware)

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.name}

    ready_summary = "The database and the bus are reachable" if spec.uses_bus else "The database is reachable"

    @app.get("/readyz", tags=["health"], summary=ready_summary,
             responses={503: {"description": "a dependency is unreachable"}})
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        checks = {"database": await runtime.database_ready()}
        if runtime.bus is not None:
            checks["bus"] = runtime.bus.connected
        if all(checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        failing = ", ".join(name for name, ok in checks.items() if not ok)
        return problem_response(503, "not ready", f"unreachable: {failing}", headers={"Retry-After": "2"})

    # Outermost, so that it also counts what the inner middlewares answer (413, 401 of the access log).
    install_metrics(app, spec.name)
    # Around even that, so every answer carries them (shared/security_headers.py).
    app.add_middleware(SecurityHeaders, docs_paths=DOCS_PATHS)
    if spec.uses_bus:  # dead letters, outbox backlog and consumer lag exist only on the bus
        app.include_router(ops.router)
    for router in spec.routers:
        app.include_router(router)
    return app
