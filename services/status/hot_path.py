"""The hot read path in front of the status service's FastAPI app: ``GET /v1/asn/{nip}/status`` answered
from the in-memory StatusIndex (see read_index.py), as plain ASGI like the blocking service's hot path.

Only a successful plain read is answered here, and only once the index is current (a read that arrives
while this process commits its own append waits a moment for it) and holds the NIP's cases (a read of a
civil servant whose cases are not kept waits a moment for them to be loaded); everything else (no or a bad token, a
refused permission, an invalid NIP, ``?proofs=true``, an index still loading, or still behind this
process's own writes after that moment) goes on to the FastAPI route, which documents the contract in the
OpenAPI and answers from the database. A request answered here is still counted in the metrics and the access log.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from services.status.read_index import StatusIndex
from shared import nip as nip_rules
from shared.access_log import AccessLog
from shared.auth import TokenVerifier
from shared.authz import allowed, scope_of
from shared.hot_path import bearer_token, record, send_body, trace_for
from shared.problems import Problem

PERMISSION = "status:read"
ROUTE = "/v1/asn/{nip}/status"
_PREFIX, _SUFFIX = "/v1/asn/", "/status"
_PLAIN_QUERIES = frozenset({b"", b"proofs=false"})
# How long a read waits for the index to reach this process's own appends before the database answers it.
CATCH_UP_SECONDS = 0.25


class StatusHotPath:
    def __init__(self, app: ASGIApp, *, index: StatusIndex, verifier: TokenVerifier, access_log: AccessLog) -> None:
        self.app = app
        self.index = index
        self.verifier = verifier
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "GET" and self.index.loaded
                and scope.get("query_string", b"") in _PLAIN_QUERIES):
            path = scope["path"]
            if path.startswith(_PREFIX) and path.endswith(_SUFFIX) and path.count("/") == 4:
                if await self._answer(scope, send, path[len(_PREFIX):-len(_SUFFIX)]):
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send, raw_nip: str) -> bool:
        started = time.perf_counter()
        token = bearer_token(scope)
        if token is None or len(raw_nip) > 40:
            return False
        try:
            actor = self.verifier.verify(token)
            nip = nip_rules.parse(raw_nip).value
        except (Problem, nip_rules.InvalidNip):
            return False
        if not allowed(PERMISSION, actor.roles):
            return False
        if not await self.index.until_current(CATCH_UP_SECONDS):
            return False
        if not await self.index.until_ready(nip, CATCH_UP_SECONDS):
            return False  # its cases are not kept and were not loaded in time: the database answers
        traceparent = trace_for(scope)
        await send_body(send, 200, self.index.answer(nip, scope_of(actor, PERMISSION)),
                        # Said like a cache's hit: this answer came from the process's read index.
                        extra_headers=[(b"traceparent", traceparent.encode()), (b"sbt-read-index", b"hit")])
        record(self.access_log, scope, route=ROUTE, status=200, actor=actor, started=started, traceparent=traceparent)
        return True
