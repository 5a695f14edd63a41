"""What every plain-ASGI hot read path needs (the blocking service's block query, the status service's
status read): the bearer token, a JSON answer, and the same metrics and access-log entry the FastAPI stack
would have recorded for the request."""

from __future__ import annotations

import time
from functools import lru_cache

from starlette.types import Scope, Send

from shared.access_log import AccessLog
from shared.auth import Actor
from shared.db import utcnow
from prometheus_client import Counter, Histogram

from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from shared.observability import continue_trace, trace_id_of
from shared.security_headers import COMMON

JSON = b"application/json"


def bearer_token(scope: Scope) -> str | None:
    header: bytes | None = next((value for name, value in scope["headers"] if name == b"authorization"), None)
    if header is None or header[:7].lower() != b"bearer ":
        return None
    return header[7:].decode("latin-1").strip()


def trace_for(scope: Scope) -> str:
    """Continue the caller's trace (or start one), as the services' TraceMiddleware does for the app."""
    header = next((value for name, value in scope["headers"] if name == b"traceparent"), None)
    return continue_trace(header.decode("latin-1") if header is not None else None)


async def send_body(send: Send, status: int, body: bytes, content_type: bytes = JSON,
                    extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *COMMON,
               *(extra_headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@lru_cache(maxsize=256)
def request_metrics(route: str, method: str, status: int) -> tuple[Counter, Histogram]:
    """The labelled request counter and latency histogram of a route: looking a labelled child up costs more
    than counting, thousands of times a second."""
    return HTTP_REQUESTS.labels(route, method, str(status)), HTTP_LATENCY.labels(route, method)


def record(access_log: AccessLog, scope: Scope, *, route: str, status: int, actor: Actor | None,
           started: float, traceparent: str | None = None) -> None:
    elapsed = time.perf_counter() - started
    method = scope["method"]
    counted, timed = request_metrics(route, method, status)
    counted.inc()
    timed.observe(elapsed)
    client = scope.get("client")
    access_log.record({
        "at": utcnow(), "client_id": actor.client_id if actor else None, "agency": actor.agency if actor else None,
        "roles": ",".join(sorted(actor.roles)) if actor else None, "method": method, "route": route,
        "status": status, "client_ip": client[0] if client else None, "trace_id": trace_id_of(traceparent),
        "duration_ms": int(elapsed * 1000),
    })
