"""Prometheus metrics of one service process, served at ``/metrics``.

Every service is its own process, so the families carry no ``service`` label: Prometheus adds the job and
instance it scraped (see deploy/prometheus/prometheus.yml), and ``sbt_service_info`` names the service.

Counters are incremented where things happen (the request middleware, the relay, the consumer); gauges
that describe a state kept elsewhere (outbox backlog, consumer lag, unreplayed dead letters) are measured
when /metrics is scraped, so they are never stale. Other modules count their own work through the
objects defined here, e.g. ``shared.metrics.DEADLINE_SWEEPS.inc()`` after a deadline sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from typing import TYPE_CHECKING

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, Info, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.messaging.dead_letters import open_dead_letter_count
from shared.observability import trace_id_of

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shared.service import Runtime

log = structlog.get_logger("sbt.http")

SERVICE_INFO = Info("sbt_service", "Which SBT service this process is")

HTTP_REQUESTS = Counter(
    "sbt_http_requests_total", "HTTP requests by route template, method and status code", ["route", "method", "code"]
)
HTTP_LATENCY = Histogram(
    "sbt_http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

EVENTS_STAGED = Counter("sbt_events_staged_total", "Events written to the outbox (committed or not)", ["event_type"])
EVENTS_PUBLISHED = Counter(
    "sbt_events_published_total", "Events the relay published and JetStream acknowledged", ["event_type"]
)
EVENTS_CONSUMED = Counter(
    "sbt_events_consumed_total", "Events applied by this service's consumer (committed)", ["event_type"]
)
EVENTS_DUPLICATE = Counter(
    "sbt_events_duplicate_total", "Events delivered again after being applied, acked and skipped", ["event_type"]
)
EVENTS_REDELIVERED = Counter(
    "sbt_events_redelivered_total", "Deliveries JetStream made more than once (after a nak or an ack timeout)",
    ["event_type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "sbt_events_dead_lettered_total", "Events moved to the dead-letter table", ["event_type"]
)
EVENTS_REFUSED = Counter(
    "sbt_events_refused_total",
    "Events refused on arrival because they are not signed by a pinned key of their producer (or their content "
    "does not match their hash): forged or altered, never applied",
    ["producer"],
)
EVENTS_REPLAYED = Counter(
    "sbt_events_replayed_total", "Dead letters replayed by an operator, by outcome", ["outcome"]
)
WEBHOOK_ATTEMPTS = Counter(
    "sbt_webhook_attempts_total", "Webhook delivery attempts (notify), by outcome: delivered, failed, refused "
    "(a target the SSRF rules refuse at delivery time)", ["outcome"]
)
WEBHOOK_LATENCY = Histogram("sbt_webhook_latency_seconds", "How long a webhook receiver took to answer")
SUBSCRIPTIONS_DISABLED = Counter("sbt_subscriptions_disabled_total", "Webhook subscriptions disabled for failing")

OUTBOX_BACKLOG = Gauge("sbt_outbox_backlog", "Committed events not yet acknowledged by JetStream")
OUTBOX_OLDEST_AGE = Gauge("sbt_outbox_oldest_age_seconds", "Age of the oldest unsent outbox event (0 when none)")
CONSUMER_LAG = Gauge(
    "sbt_consumer_lag", "Messages in the stream not yet delivered to this service's durable consumer (num_pending)"
)
CONSUMER_ACK_PENDING = Gauge("sbt_consumer_ack_pending", "Messages delivered to the consumer and not yet acked")
DEAD_LETTERS_OPEN = Gauge("sbt_dead_letters_open", "Dead letters not yet replayed")
BUS_CONNECTED = Gauge("sbt_bus_connected", "1 when the NATS connection is up")

DEADLINE_SWEEPS = Counter("sbt_deadline_sweeps_total", "Deadline sweeps run (periodic or triggered by an operator)")


def event_type_label(event_type: str | None) -> str:
    return event_type or "unknown"


_TYPE_BY_SUBJECT: dict[str, str] = {}


def event_type_of_subject(subject: str) -> str:
    """The event type a NATS subject carries (one subject per event type), without decoding the payload."""
    if not _TYPE_BY_SUBJECT:
        from shared.events import EVENT_MODELS, nats_subject

        _TYPE_BY_SUBJECT.update({nats_subject(model): event_type for event_type, model in EVENT_MODELS.items()})
    return _TYPE_BY_SUBJECT.get(subject, "unknown")


class MetricsMiddleware:
    """Counts and times every request by route template (not by raw path, which would explode the label
    set), and logs one line per request with the trace id the trace middleware put on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        traceparent: str | None = None

        async def send_and_watch(message: Message) -> None:
            nonlocal status, traceparent
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"traceparent":
                        traceparent = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            if template != "/metrics":  # scrapes would otherwise dominate the request counts
                HTTP_REQUESTS.labels(template, method, str(status)).inc()
                HTTP_LATENCY.labels(template, method).observe(elapsed)
            if template not in ("/metrics", "/healthz", "/readyz"):
                log.info(
                    "request", method=method, route=template, path=scope.get("path"), status=status,
                    duration_ms=round(elapsed * 1000, 2), trace_id=trace_id_of(traceparent),
                )


async def refresh_gauges(runtime: Runtime) -> None:
    """Measure the state gauges now; a dependency that does not answer leaves its gauge as it was."""
    if runtime.bus is None:  # a service without the bus has no outbox, consumer or dead letters to measure
        return
    BUS_CONNECTED.set(1 if runtime.bus.connected else 0)
    with contextlib.suppress(Exception):
        count, oldest = await runtime.live_relay.backlog()
        OUTBOX_BACKLOG.set(count)
        age = (dt.datetime.now(dt.UTC) - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST_AGE.set(max(age, 0.0))
    with contextlib.suppress(Exception):
        DEAD_LETTERS_OPEN.set(await open_dead_letter_count(runtime.sessions, runtime.messaging))
    if runtime.consumer is not None and runtime.bus.connected:
        with contextlib.suppress(Exception):
            info = await asyncio.wait_for(
                runtime.live_bus.jetstream.consumer_info(runtime.live_bus.settings.stream_name, runtime.consumer.name), timeout=2
            )
            CONSUMER_LAG.set(info.num_pending or 0)
            CONSUMER_ACK_PENDING.set(info.num_ack_pending or 0)


def install_metrics(app: FastAPI, service: str) -> None:
    """Add the request middleware and the unauthenticated ``/metrics`` route (scraped from inside the
    deployment's network, like /healthz)."""
    SERVICE_INFO.info({"service": service})
    app.add_middleware(MetricsMiddleware)

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics of this process", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is not None:
            await refresh_gauges(runtime)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
