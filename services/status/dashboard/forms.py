"""Form tokens against cross-site request forgery, for every form the dashboard posts.

Signed double submit: the browser holds a random value in an HttpOnly cookie, and every form carries
``HMAC(key, value | session)`` in a hidden field, where ``session`` is a digest of the session cookie (empty
before sign-in). Another site can make the browser send the cookies but cannot read them nor the page, so it
cannot make the field; and a token taken from one session is worth nothing in another.

For a new form: render ``{{ csrf_field() }}`` inside it, and take ``form: CheckedForm`` in its route; the
route then receives the fields, the token already checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.responses import Response
from jinja2 import pass_context
from markupsafe import Markup, escape

from shared.problems import Problem
from services.status.settings import StatusSettings

FIELD = "csrf_token"
COOKIE = "sbt_form"
KEY_FILE = "dashboard-form.key"
_MAX_FIELDS = 20


def _key(settings: StatusSettings) -> bytes:
    if settings.dashboard_form_key:
        return settings.dashboard_form_key.encode()
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # exclusive create: when several processes start at once, the first key wins
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
        except FileExistsError:
            pass
    return path.read_text().strip().encode()


def _form_key(request: Request) -> bytes:
    key = getattr(request.app.state, "dashboard_form_key", None)
    if key is None:
        key = request.app.state.dashboard_form_key = _key(request.app.state.settings)
    return key


def _expected(request: Request, browser_value: str) -> str:
    from services.status.dashboard.auth import COOKIE as SESSION_COOKIE

    session = hashlib.sha256((request.cookies.get(SESSION_COOKIE) or "").encode()).hexdigest()
    mac = hmac.new(_form_key(request), f"{browser_value}|{session}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_for(request: Request) -> str:
    """The token for the forms of the page being rendered; makes the browser's value when it has none
    (``set_cookie`` then sends it with the page)."""
    value = request.cookies.get(COOKIE) or getattr(request.state, "new_form_value", None)
    if not value:
        value = request.state.new_form_value = secrets.token_urlsafe(24)
    return _expected(request, value)


def set_cookie(request: Request, response: Response) -> None:
    value = getattr(request.state, "new_form_value", None)
    if value:
        settings = request.app.state.settings
        response.set_cookie(COOKIE, value, httponly=True, samesite="strict", path="/dashboard",
                            secure=settings.env == "production")


@pass_context
def csrf_field(context) -> Markup:  # noqa: ANN001
    """The hidden field a form carries; the page's context holds ``csrf_token``."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, escape(context.get("csrf_token", "")))


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form (application/x-www-form-urlencoded), one value per field."""
    try:
        fields = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True,
                          max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Problem(422, "invalid form", "the form is not a well-formed UTF-8 form") from None
    return {name: values[0] for name, values in fields.items()}


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form, once its token is this browser's and this session's; 403 otherwise."""
    fields = await form_fields(request)
    value = request.cookies.get(COOKIE)
    given = fields.get(FIELD, "")
    if not value or not given or not hmac.compare_digest(given.encode(), _expected(request, value).encode()):
        raise Problem(403, "forbidden", "csrf_token: the form is out of date or not from this dashboard; "
                                        "reload the page and send it again")
    return fields


CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


async def checked_action_form(request: Request) -> dict[str, str]:
    """A decision's form: checked like any form when the browser's session cookie is what signs it in. A
    request that carries its own bearer token (a script, an agency system) needs no form token: a browser
    never adds an Authorization header by itself, and no other site can make it send one here."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return await form_fields(request)
    return await checked_form(request)


ActionForm = Annotated[dict[str, str], Depends(checked_action_form)]
