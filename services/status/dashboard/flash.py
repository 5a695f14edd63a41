"""A one-time message on the page a form redirects to (POST, redirect, GET): "the decree is recorded".

The cookie holds only the name of an action whose message the page knows, never text, so nothing another
site or a crafted link puts there can be shown as if the dashboard had said it."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

COOKIE = "sbt_flash"


def set_flash(request: Request, response: Response, name: str) -> None:
    response.set_cookie(COOKIE, name, max_age=120, httponly=True, samesite="strict", path="/dashboard",
                        secure=request.app.state.settings.env == "production")


def take_flash(request: Request, known: dict[str, str]) -> str | None:
    """The message msgid waiting for this page, if any (the cookie is cleared by ``clear_flash``)."""
    return known.get(request.cookies.get(COOKIE, ""))


def clear_flash(request: Request, response: Response) -> None:
    if request.cookies.get(COOKIE):
        response.delete_cookie(COOKIE, path="/dashboard")
