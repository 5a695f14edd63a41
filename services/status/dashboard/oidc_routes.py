"""The sign-in page's button for the agency's OpenID provider, and the way back from it.

The dashboard is only the courier, as it is for a password: the identity service is the relying party
(POST /v1/sessions/oidc/start and POST /v1/sessions/oidc). Between the two the sealed transaction (state,
nonce, PKCE verifier) waits in an HttpOnly cookie of its own, SameSite=Lax because the provider sends the
browser back from another site, limited to these paths, and dropped once it has been used.

The session cookie is SameSite=Strict, so a browser does not send it on a navigation that another site
started, redirects included: the callback therefore answers a page of this site that moves on to the
landing page by itself, and that next request is this site's own.
"""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.status.dashboard import forms
from services.status.dashboard.auth import LOGIN_PATH, safe_next
from services.status.dashboard.routes import _login_page, _page, keep_session, landing, session_of
from shared.problems import Problem
from services.status.settings import StatusSettings

PATH = "/dashboard/login/oidc"
TRANSACTION_COOKIE = "sbt_oidc"
NEXT_COOKIE = "sbt_oidc_next"
# What the identity service's refusals mean for the page (the words are in login.html).
_REFUSALS = {"no role": "oidc_no_role", "no agency": "oidc_no_role", "no regional office": "oidc_no_office",
             "second factor required": "oidc_mfa"}

router = APIRouter(prefix=PATH, include_in_schema=False)


async def configured(request: Request) -> StatusSettings:
    settings: StatusSettings = request.app.state.settings
    if not settings.oidc_enabled:
        raise Problem(404, "not configured", "sign-in with an OpenID provider is not configured here")
    return settings


# Public like the password form (no session yet), and limited the same way, at the identity service.
configured.permission = "session:create"  # type: ignore[attr-defined] - read by the deny-by-default test
Configured = Annotated[StatusSettings, Depends(configured)]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _identity(settings: StatusSettings, request: Request, path: str, body: dict) -> httpx.Response:
    async with httpx.AsyncClient(base_url=settings.identity_base_url, timeout=15) as identity:
        return await identity.post(path, json=body, headers={"X-Forwarded-For": _address(request)})


def _title(answer: httpx.Response) -> str | None:
    if answer.headers.get("content-type", "").endswith("json"):
        return answer.json().get("title")
    return None


def _forget(response: Response, settings: StatusSettings) -> None:
    for name in (TRANSACTION_COOKIE, NEXT_COOKIE):
        response.delete_cookie(name, path=PATH, secure=settings.env == "production", httponly=True,
                               samesite="lax")


@router.post("")
async def begin(request: Request, form: forms.CheckedForm, settings: Configured) -> Response:
    """The button: asks the identity service where to send the browser, keeps the transaction, sends it."""
    target = safe_next(form.get("next"))
    try:
        answer = await _identity(settings, request, "/v1/sessions/oidc/start", {})
    except httpx.HTTPError:
        return _refused(request, 503, target, "unavailable")
    if answer.status_code == 429:
        return _refused(request, 429, target, "too_many", headers={"Retry-After": answer.headers.get("retry-after", "60")})
    if answer.status_code != 200:
        return _refused(request, 503, target, "unavailable")
    started = answer.json()
    response = RedirectResponse(started["authorization_url"], status_code=303)
    for name, value in ((TRANSACTION_COOKIE, started["transaction"]), (NEXT_COOKIE, target)):
        response.set_cookie(name, value, max_age=int(started["expires_in"]), httponly=True, samesite="lax",
                            path=PATH, secure=settings.env == "production")
    return response


@router.get("/callback")
async def callback(
    request: Request,
    settings: Configured,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    iss: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Where the provider sends the person back: the code and state go to the identity service with the
    transaction; its answer is a session, or one line on the sign-in page saying why not."""
    target = safe_next(request.cookies.get(NEXT_COOKIE))
    transaction = request.cookies.get(TRANSACTION_COOKIE)
    outcome: Response
    if error:  # the person cancelled, or the provider refused them
        outcome = _refused(request, 401, target, "oidc_denied")
    elif not code or not state or not transaction:
        outcome = _refused(request, 400, target, "oidc_refused")
    else:
        outcome = await _finish(request, settings, target, {"code": code, "state": state,
                                                            "transaction": transaction,
                                                            **({"iss": iss} if iss else {})})
    _forget(outcome, settings)  # a transaction is good for one try
    return outcome


def _refused(request: Request, status: int, target: str, error: str, headers: dict | None = None) -> Response:
    # The language links open the sign-in page, not this callback again (its code is spent).
    return _login_page(request, status, next=target, error=error, headers=headers, switch_to=LOGIN_PATH)


async def _finish(request: Request, settings: StatusSettings, target: str, body: dict) -> Response:
    try:
        answer = await _identity(settings, request, "/v1/sessions/oidc", body)
    except httpx.HTTPError:
        return _refused(request, 503, target, "unavailable")
    if answer.status_code == 429:
        return _refused(request, 429, target, "too_many",
                        headers={"Retry-After": answer.headers.get("retry-after", "60")})
    if answer.status_code == 403:
        return _refused(request, 403, target, _REFUSALS.get(_title(answer) or "", "oidc_no_role"))
    if answer.status_code in (401, 422):
        return _refused(request, 401, target, "oidc_refused")
    if answer.status_code != 200:
        return _refused(request, 503, target, "unavailable")
    token = answer.json()["access_token"]
    actor = session_of(request, token)
    if actor is None:
        return _refused(request, 503, target, "unavailable")
    page = _page(request, "signed_in.html", actor=None, target=landing(actor, target), switch_to=LOGIN_PATH)
    keep_session(request, page, token, actor)
    return page
