"""Trace context: a W3C ``traceparent`` that follows a case from the HTTP request through the outbox,
the NATS message and every consumer, so one id can be found in the logs of every service it touched."""

from __future__ import annotations

import contextvars
import re
import secrets

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("traceparent", default=None)


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def trace_id_of(traceparent: str | None) -> str | None:
    match = _TRACEPARENT.match(traceparent or "")
    return match.group(1) if match else None


def continue_trace(traceparent: str | None) -> str:
    """Start a new span in the trace of ``traceparent`` (or a new trace) and make it current."""
    value = new_traceparent(trace_id_of(traceparent))
    _current.set(value)
    return value


def current_traceparent() -> str | None:
    return _current.get()
