"""Security headers on every answer: no content sniffing and no referrer everywhere, and on every HTML
page (the dashboard, its error pages) a Content-Security-Policy that allows only this origin's own script
and style, no inline script, no plugins, no foreign form targets, and no framing.

The OpenAPI pages (/docs with Swagger UI, /redoc with ReDoc) are served from the service's own files
(shared/docs.py), started without inline script, so their policy names no other host either. It differs from
the pages' policy in two things only: ReDoc's components inject their own <style> elements (inline style,
never inline script), and ReDoc searches in a web worker made from a blob.

The plain-ASGI hot paths answer only JSON; they send ``COMMON`` themselves (shared/hot_path.py).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LOCKED_DOWN = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
PAGE_POLICY = f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; {_LOCKED_DOWN}"
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    f"font-src 'self'; worker-src 'self' blob:; {_LOCKED_DOWN}"
)



def page_policy_with_form_target(origin: str) -> str:
    """The pages' policy, but for one more origin that a form may be sent on to: the sign-in page's button
    posts to this site, which sends the browser on to the agency's OpenID provider, and browsers hold that
    redirect to form-action as well."""
    return PAGE_POLICY.replace("form-action 'self'", f"form-action 'self' {origin}")


# On every answer, JSON included.
COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """Adds the headers to every HTTP answer of the app; ``docs_paths`` get ``DOCS_POLICY``."""

    def __init__(self, app: ASGIApp, docs_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] in self.docs_paths else PAGE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON:
                    headers.setdefault(name.decode(), value.decode())
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("content-security-policy", policy)
                    headers.setdefault("x-frame-options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)
