"""Who may look at the dashboard: a bearer token (agency systems, scripts) or, for people, a session
cookie holding the same signed token, set by the login form.

The cookie is HttpOnly (no script can read the token), SameSite=Strict (no other site can make the browser
send it) and Secure outside development, and it expires with the token. The dashboard only reads, so there
is nothing for a forged request to change.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from shared.auth import Actor, TokenVerifier
from shared.authz import allowed
from shared.problems import Problem

COOKIE = "sbt_session"
LOGIN_PATH = "/dashboard/login"


def login_required(next_path: str) -> Problem:
    """A person without a (valid) session is sent to the login form, then back to where they were."""
    location = f"{LOGIN_PATH}?{urlencode({'next': next_path})}"
    return Problem(303, "login required", "log in with a token to see the dashboard", headers={"Location": location})


def _token(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    return request.cookies.get(COOKIE), True


def viewer(permission: str):
    """Like ``shared.auth.require``, but also accepts the session cookie; without any credential a browser
    is sent to the login form."""

    async def dependency(request: Request) -> Actor:
        token, from_cookie = _token(request)
        if not token:
            raise login_required(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            actor = verifier.verify(token)
        except Problem:
            if from_cookie:  # an expired or rotated-out session: log in again
                raise login_required(request.url.path) from None
            raise
        request.state.actor = actor
        if not allowed(permission, actor.roles):
            raise Problem(403, "forbidden", f"permission '{permission}' is not granted to roles {sorted(actor.roles)}")
        return actor

    dependency.permission = permission  # type: ignore[attr-defined] - read by the deny-by-default test
    return dependency


def safe_next(target: str | None) -> str:
    """Only a path on this dashboard: never an open redirect to another site."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard"
