"""Errors are answers: RFC 9457 problem bodies that say which field is wrong and why.

Bad input is always a 4xx; nothing half-written remains because the transaction that raised is rolled
back by its owner. A 503 (with Retry-After) means a dependency is unreachable.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("sbt.problems")

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        # RFC 9457 extension members, beside type/title/status/detail/errors (e.g. where to go instead).
        self.extensions = extensions
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers

    @classmethod
    def field(cls, field: str, reason: str, status: int = 422) -> "Problem":
        return cls(status, "invalid request", f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


def problem_response(
    status: int, title: str, detail: str | None = None, *, errors: list[Any] | None = None,
    headers: dict[str, Any] | None = None, extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {**(extensions or {}), "type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location if p not in ("body",)]
    return ".".join(parts) or "body"


def _reason(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    if kind == "json_invalid":
        return "body is not valid JSON"
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, errors=exc.errors, headers=exc.headers,
                                extensions=exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field_name(e.get("loc", ())), "reason": _reason(e)} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        return problem_response(422, "invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _refused_by_database(_request: Request, exc: DataError) -> JSONResponse:
        # A value the validators let through but the database cannot hold (a NUL character, a number out
        # of range): bad input, so a 4xx, and the transaction that raised has been rolled back.
        log.warning("value refused by the database: %s", exc.orig)
        return problem_response(422, "invalid request", "a value is out of range or holds a character the "
                                "database cannot store")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem_response(500, "internal error", "the failure was logged")


class BodySizeLimit:
    """Refuses bodies larger than ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, "request body too large", f"the limit is {self.limit} bytes")
        await response(scope, receive, send)


class _TooLarge(StarletteHTTPException):
    """Raised while the body is read. An HTTPException, because FastAPI turns any other error raised while
    reading a body into a 400; this one it lets through to the app's handler, which answers 413."""

    def __init__(self) -> None:
        super().__init__(413, "request body too large")
