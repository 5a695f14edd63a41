"""The token endpoint (OAuth2 client credentials, RFC 6749 §4.4) and the key set integrators verify
tokens against. Neither takes a bearer token: the token endpoint authenticates the client by its own id
and secret, and refuses an address with too many failed attempts (429 with Retry-After)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic

from services.identity import domain, keys, signing_in
from services.identity.schemas import JwkSet, OAuthError, TokenOut
from services.identity.token_request import (
    GRANT_TYPE,
    TokenRequestError,
    check_grant_type,
    client_credentials,
    invalid_client,
    parse_form,
)
from shared.auth import Actor, mint_token, public
from shared.authz import allowed
from shared.problems import Problem
from shared.ratelimit import RateLimiter
from shared.service import RuntimeDep

router = APIRouter(tags=["oauth"])

TOKEN_PERMISSION = "oauth:token"
if not allowed(TOKEN_PERMISSION, {"public"}):
    raise RuntimeError(f"{TOKEN_PERMISSION} must be granted to the public role: the endpoint takes no token")

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class ClientBasicAuth(HTTPBasic):
    """Documents HTTP Basic client authentication in the OpenAPI; the header itself is read by
    token_request, which answers in RFC 6749 shape where FastAPI's HTTPBasic would not."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


def _failure_limiter(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "token_failures", None)
    if limiter is None:
        settings = request.app.state.settings
        limiter = request.app.state.token_failures = RateLimiter(
            rate_per_minute=settings.token_failure_rate_per_minute, burst=settings.token_failure_burst
        )
    return limiter


async def failure_budget(request: Request) -> str:
    """The caller's address, refused with 429 while its failed attempts are over budget: a right secret
    included, or the budget would not slow down guessing."""
    address = request.client.host if request.client else "unknown"
    decision = _failure_limiter(request).peek(TOKEN_PERMISSION, address)
    if not decision.allowed:
        raise Problem(429, "too many requests", f"too many failed attempts; try again in {decision.retry_after} s",
                      headers={"Retry-After": str(decision.retry_after)})
    return address


failure_budget.permission = TOKEN_PERMISSION  # type: ignore[attr-defined] - read by the deny-by-default test


def _error(error: TokenRequestError) -> JSONResponse:
    headers = dict(_NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="sbt"'
    return JSONResponse({"error": error.error, "error_description": error.description}, status_code=error.status,
                        headers=headers)


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": [GRANT_TYPE]},
        "scope": {"type": "string", "description": "Space-separated roles: a subset of the client's own. "
                                                   "Omitted, the token carries every role the client holds."},
        "client_id": {"type": "string", "description": "Only when HTTP Basic is not used."},
        "client_secret": {"type": "string", "description": "Only when HTTP Basic is not used."},
    },
}


@router.post(
    "/oauth/token", response_model=TokenOut, summary="Exchange a client's id and secret for a bearer token",
    dependencies=[Depends(ClientBasicAuth(auto_error=False, scheme_name="clientCredentials",
                                          description="client_id and client_secret (RFC 6749 §2.3.1)"))],
    openapi_extra={"requestBody": {"required": True,
                                   "content": {"application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA}}}},
    responses={400: {"model": OAuthError, "description": "invalid_request (naming the field), "
                                                           "unsupported_grant_type or invalid_scope"},
               401: {"model": OAuthError, "description": "invalid_client: unknown client, wrong secret or "
                                                           "revoked client, all answered alike"},
               429: {"description": "too many failed attempts from this address; see Retry-After"}},
)
async def token(request: Request, address: Annotated[str, Depends(failure_budget)],
                runtime: RuntimeDep) -> JSONResponse:
    settings = runtime.settings
    try:
        form = parse_form(request.headers.get("content-type"), await request.body())
        check_grant_type(form)
        given = client_credentials(request.headers.get("authorization"), form)
        client = await signing_in.authenticate_client(runtime=runtime, client_id=given.client_id,
                                                      secret=given.secret)
        if client is None:
            raise invalid_client()
    except TokenRequestError as error:
        if error.status == 401:
            _failure_limiter(request).check(TOKEN_PERMISSION, address)
        return _error(error)
    try:
        roles = domain.granted_roles(form.get("scope"), client.roles)
    except domain.ScopeRefused as refused:
        return _error(TokenRequestError(400, "invalid_scope", f"scope: {refused}"))
    ppk_agency = client.ppk_agency if "ppk" in roles else None
    bkn_office = client.bkn_office if "bkn_regional" in roles else None
    request.state.actor = Actor(client_id=client.client_id, agency=client.agency_code, roles=frozenset(roles),
                                ppk_agency=ppk_agency, bkn_office=bkn_office)
    access_token = mint_token(settings, agency=client.agency_code, roles=roles, client_id=client.client_id,
                              ppk_agency=ppk_agency, bkn_office=bkn_office, ttl_seconds=settings.client_token_ttl_seconds)
    body = TokenOut(access_token=access_token, token_type="Bearer", expires_in=settings.client_token_ttl_seconds,
                    scope=" ".join(roles))
    return JSONResponse(body.model_dump(), headers=_NO_STORE)


@router.get("/.well-known/jwks.json", response_model=JwkSet,
            summary="The public keys whose tokens the services accept (verify a token's signature by its kid)")
async def jwks(request: Request, _caller: Annotated[Actor, Depends(public("jwks:read"))]) -> JSONResponse:
    return JSONResponse(keys.key_set(request.app.state.settings),
                        headers={"Cache-Control": "public, max-age=300"})
