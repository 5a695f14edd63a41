"""Every error answer is an RFC 9457 problem body (shared/problems.py); this says so in the OpenAPI of every
service: one ``Problem`` schema, every 4xx/5xx answer of an operation as ``application/problem+json``, and
on every operation that needs a token the answers any of them can give: 401 (no or no valid token), 403 (the
role or agency may not) and 429 (too many requests, with Retry-After)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from shared.problems import PROBLEM_JSON

REF = "#/components/schemas/Problem"
GUARDED = {
    "401": "no bearer token, or one that is expired, malformed or not signed by a known key",
    "403": "the token's roles or agency may not do this",
    "429": "too many requests from this client; Retry-After says when to try again",
}


class FieldError(BaseModel):
    field: str = Field(description="the field, dotted (e.g. reporter.contact), or body")
    reason: str


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details)."""

    type: str = Field("about:blank", description="always about:blank: the status and title say what happened")
    title: str = Field(description="short and stable, e.g. 'invalid request', 'forbidden'")
    status: int
    detail: str | None = Field(None, description="what was wrong with this request")
    errors: list[FieldError] | None = Field(None, description="one entry per invalid field (422)")


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": REF}}}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(components["Problem"].pop("$defs", {}))
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if operation.get("security"):
                for status, description in GUARDED.items():
                    responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = _problem_content()
    # FastAPI's own validation-error schemas are not what the services answer: they answer a Problem.
    for unused in ("HTTPValidationError", "ValidationError"):
        if not any(unused in str(v) for k, v in components.items() if k != unused):
            components.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
