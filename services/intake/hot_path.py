"""The filing path in front of intake's FastAPI app: ``POST /v1/reports``, the one write that arrives by the
thousand during a national surge, as plain ASGI like the blocking and status services' hot reads.

Only a request that will be filed is handled here: a bearer token that holds ``report:create``, a JSON body
within the size limit that validates as a report, an Idempotency-Key within bounds. Everything else goes on
to the FastAPI route with its body replayed, so every refusal (401, 403, 413, 422 naming the field) comes from
the one place that words them, and the route documents the contract in the OpenAPI. A filing's own errors
(a reused Idempotency-Key, a value the database refuses, the client's spent write budget) are answered by
the app's own exception handlers.

What the middleware stack would have done for the request is done here too: the trace is continued and
returned in ``traceparent``, the request is counted and timed, logged as one line, and written to the
access log.
"""

from __future__ import annotations

import time

import orjson
import structlog
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from services.intake import reports
from services.intake.schemas import ReportIn
from shared.access_log import AccessLog, entry
from shared.auth import Actor, TokenVerifier
from shared.authz import allowed
from shared.hot_path import JSON, bearer_token, request_metrics, send_body
from shared.observability import continue_trace, trace_id_of
from shared.problems import Problem
from shared.security_headers import COMMON

ROUTE = "/v1/reports"
PERMISSION = "report:create"
IDEMPOTENCY_KEY_LIMIT = 200  # as the route's Header(max_length=...)
request_log = structlog.get_logger("sbt.http")


class FilingHotPath:
    def __init__(self, app: FastAPI, *, verifier: TokenVerifier, access_log: AccessLog, body_limit: int) -> None:
        self.app = app
        self.verifier = verifier
        self.access_log = access_log
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != ROUTE:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        actor = self._actor(scope, headers)
        runtime = getattr(self.app.state, "runtime", None)
        if actor is None or runtime is None:
            await self.app(scope, receive, send)
            return
        messages, body = await self._read_body(receive, headers)
        filing = self._filing(headers, body) if body is not None else None
        if filing is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        report, idempotency_key = filing
        traceparent = continue_trace(headers.get(b"traceparent", b"").decode("latin-1") or None)
        try:
            # The write budget is spent as on every other authenticated write (shared/write_limit.py).
            await self.app.state.write_limiter.spend(actor)
            filed = await reports.file(runtime=runtime, report=report, actor=actor, idempotency_key=idempotency_key)
        except Exception as error:  # noqa: BLE001 - answered by the app's own handler for it
            status = await self._answer_error(scope, send, error, traceparent)
        else:
            status = 201
            extra = [(b"traceparent", traceparent.encode())]
            if filed.replayed:
                extra.append((b"idempotent-replayed", b"true"))
            await send_body(send, status, orjson.dumps(filed.accepted.model_dump(mode="json")), JSON, extra)
        self._record(scope, actor, status, traceparent, started)

    def _actor(self, scope: Scope, headers: dict[bytes, bytes]) -> Actor | None:
        token = bearer_token(scope)
        if token is None:
            return None
        try:
            actor = self.verifier.verify(token)
        except Problem:
            return None
        return actor if allowed(PERMISSION, actor.roles) else None

    async def _read_body(self, receive: Receive, headers: dict[bytes, bytes]) -> tuple[list[Message], bytes | None]:
        """The messages read, and the whole body, or None when it is over the limit (or the client left)."""
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.body_limit:
            return [], None
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages, None
            size += len(message.get("body", b""))
            if size > self.body_limit:
                return messages, None
            if not message.get("more_body"):
                return messages, b"".join(m.get("body", b"") for m in messages)

    @staticmethod
    def _filing(headers: dict[bytes, bytes], body: bytes) -> tuple[ReportIn, str | None] | None:
        if not headers.get(b"content-type", b"").lower().startswith(b"application/json"):
            return None
        key = headers.get(b"idempotency-key")
        idempotency_key = key.decode("latin-1") if key is not None else None
        if idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_LIMIT:
            return None
        try:
            return ReportIn.model_validate(orjson.loads(body)), idempotency_key
        except (orjson.JSONDecodeError, ValidationError):
            return None

    async def _answer_error(self, scope: Scope, send: Send, error: Exception, traceparent: str) -> int:
        handler = next(
            (self.app.exception_handlers[kind] for kind in type(error).__mro__ if kind in self.app.exception_handlers),
        )
        response = await handler(Request(scope), error)
        response.headers["traceparent"] = traceparent
        for name, value in COMMON:
            response.headers[name.decode()] = value.decode()

        async def nothing_more() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing_more, send)
        return response.status_code

    def _record(self, scope: Scope, actor: Actor, status: int, traceparent: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        counted, timed = request_metrics(ROUTE, "POST", status)
        counted.inc()
        timed.observe(elapsed)
        trace_id = trace_id_of(traceparent)
        request_log.info("request", method="POST", route=ROUTE, path=ROUTE, status=status,
                         duration_ms=round(elapsed * 1000, 2), trace_id=trace_id)
        client = scope.get("client")
        self.access_log.record(entry(actor=actor, method="POST", route=ROUTE, status=status,
                                     client_ip=client[0] if client else None, trace_id=trace_id, started=started))


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The request's messages already read, then the rest as it comes."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
