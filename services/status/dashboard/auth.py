"""Who may look at the dashboard: a bearer token (agency systems, scripts) or, for people, a session
cookie holding the signed token the identity service answered when they signed in (username, password and,
for some roles, a TOTP code).

The cookie is HttpOnly (no script can read the token), SameSite=Strict (no other site can make the browser
send it) and Secure outside development, and it expires with the token. Every form also carries a token of
its own (forms.py), so that no other site can post one.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from shared.auth import Actor, TokenVerifier
from shared.authz import allowed
from shared.problems import Problem

COOKIE = "sbt_session"
LOGIN_PATH = "/dashboard/login"


def login_required(next_path: str, *, expired: bool = False) -> Problem:
    """A person without a (valid) session is sent to the login form, then back to where they were; the
    form says so when the session has ended."""
    query = {"next": next_path, **({"expired": "1"} if expired else {})}
    location = f"{LOGIN_PATH}?{urlencode(query)}"
    return Problem(303, "login required", "sign in to see the dashboard", headers={"Location": location})


def _token(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    return request.cookies.get(COOKIE), True


def session_token(request: Request) -> str:
    """The signed-in person's own token (the session cookie's, or a script's bearer token): what the
    dashboard sends on to the deciding services, so they judge the person, not the dashboard."""
    token, _from_cookie = _token(request)
    return token or ""


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
            if from_cookie:  # an expired or rotated-out session: sign in again
                raise login_required(request.url.path, expired=True) from None
            raise
        request.state.actor = actor
        if not allowed(permission, actor.roles):
            raise Problem(403, "forbidden", f"permission '{permission}' is not granted to roles {sorted(actor.roles)}")
        return actor

    dependency.permission = permission  # type: ignore[attr-defined] - read by the deny-by-default test
    return dependency


# Where each role starts: the national overview for those who may read the figures, a PPK its agency's
# obligations, anyone else the NIP check. In this order: the first page the caller may see.
HOMES = (("stats:read", "/dashboard"), ("ppk_worklist:read", "/dashboard/obligations"),
         ("status:read", "/dashboard/nip"))


def home_of(actor: Actor | None) -> str:
    for permission, path in HOMES:
        if actor is not None and allowed(permission, actor.roles):
            return path
    return "/dashboard"


def safe_next(target: str | None) -> str:
    """Only a path on this dashboard: never an open redirect to another site."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard"
