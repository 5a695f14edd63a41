"""The hot read path in front of the blocking service's FastAPI app: ``GET /v1/personnel/{nip}/block`` and
the bulk check ``POST /v1/personnel/blocks/check``, answered straight from the in-memory BlockIndex.

It is plain ASGI because a personnel system asks before every promotion or transfer, nationally: the full
middleware stack would cost more than the answer. It keeps the same contract as the FastAPI routes (which
document it in the OpenAPI, and answer whenever the index is not loaded yet): the same authorisation, the
same problem bodies, and it still counts the request in the metrics and writes the access log.
"""

from __future__ import annotations

import time

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from services.blocking.block_index import BlockIndex
from shared import nip as nip_rules
from shared.access_log import AccessLog
from shared.auth import TokenVerifier
from shared.authz import allowed
from shared.hot_path import JSON, bearer_token, record, send_body, trace_for
from shared.problems import PROBLEM_JSON, Problem

PERMISSION = "block:read"
ONE_ROUTE = "/v1/personnel/{nip}/block"
BULK_ROUTE = "/v1/personnel/blocks/check"
BULK_LIMIT = 1000
_PREFIX, _SUFFIX = "/v1/personnel/", "/block"


def _nip_of(raw: str) -> str:
    try:
        return nip_rules.parse(raw).value
    except nip_rules.InvalidNip as error:
        raise Problem.field("nip", error.reason) from None


def bulk_answer(index: BlockIndex, nips: object) -> bytes:
    """The body of the bulk check, or a Problem naming the first bad entry."""
    if not isinstance(nips, list) or not nips:
        raise Problem.field("nips", "must be a non-empty list of NIPs")
    if len(nips) > BULK_LIMIT:
        raise Problem.field("nips", f"at most {BULK_LIMIT} NIPs per request, got {len(nips)}")
    results, blocked = [], 0
    for position, raw in enumerate(nips):
        if not isinstance(raw, str) or len(raw) > 40:
            raise Problem.field(f"nips.{position}", "must be a NIP as text")
        try:
            value = nip_rules.parse(raw).value
        except nip_rules.InvalidNip as error:
            raise Problem.field(f"nips.{position}", error.reason) from None
        is_blocked, since = index.is_blocked(value)
        blocked += is_blocked
        results.append({"nip": value, "blocked": is_blocked, "since": since})
    return orjson.dumps({"checked": len(results), "blocked": blocked, "results": results})


class HotPath:
    def __init__(self, app: ASGIApp, *, index: BlockIndex, verifier: TokenVerifier, access_log: AccessLog) -> None:
        self.app = app
        self.index = index
        self.verifier = verifier
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.index.ready:
            path, method = scope["path"], scope["method"]
            if method == "GET" and path.startswith(_PREFIX) and path.endswith(_SUFFIX) and path.count("/") == 4:
                await self._answer(scope, send, ONE_ROUTE, lambda: self.index.answer(
                    _nip_of(path[len(_PREFIX):-len(_SUFFIX)])))
                return
            if method == "POST" and path == BULK_ROUTE:
                body = await self._read_body(receive)
                await self._answer(scope, send, BULK_ROUTE, lambda: bulk_answer(self.index, self._nips_of(body)))
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _read_body(receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > 64 * 1024:
                return b"\x00too-large"
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    @staticmethod
    def _nips_of(body: bytes) -> object:
        if body == b"\x00too-large":
            raise Problem(413, "request body too large", "the limit is 65536 bytes")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Problem.field("body", "body is not valid JSON") from None
        if not isinstance(document, dict) or set(document) - {"nips"}:
            raise Problem.field("body", "expected {\"nips\": [...]} and nothing else")
        return document.get("nips")

    async def _answer(self, scope: Scope, send: Send, route: str, build) -> None:  # noqa: ANN001
        started = time.perf_counter()
        traceparent = trace_for(scope)
        actor = None
        try:
            actor = self._authorise(scope)
            status, body, content_type, extra = 200, build(), JSON, []
        except Problem as problem:
            document = {"type": "about:blank", "title": problem.title, "status": problem.status}
            if problem.detail:
                document["detail"] = problem.detail
            if problem.errors:
                document["errors"] = problem.errors
            status, body, content_type = problem.status, orjson.dumps(document), PROBLEM_JSON.encode()
            extra = [(b"www-authenticate", b"Bearer")] if problem.status == 401 else []
        await send_body(send, status, body, content_type, [*extra, (b"traceparent", traceparent.encode())])
        record(self.access_log, scope, route=route, status=status, actor=actor, started=started,
               traceparent=traceparent)

    def _authorise(self, scope: Scope):  # noqa: ANN202
        token = bearer_token(scope)
        if token is None:
            raise Problem(401, "authentication required", "send a bearer token in the Authorization header")
        actor = self.verifier.verify(token)
        if not allowed(PERMISSION, actor.roles):
            raise Problem(403, "forbidden", f"permission '{PERMISSION}' is not granted to roles {sorted(actor.roles)}")
        return actor
