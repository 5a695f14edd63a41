"""The OpenAPI pages (/docs with Swagger UI, /redoc with ReDoc), served by the service itself from packaged
files instead of a CDN, so they work without internet and under a policy that names no other host.

The Swagger UI and ReDoc builds come from the ``fastapi-offline`` package (MIT; only its static folder is
used); Swagger UI is started by ``docs_static/swagger-init.js`` rather than an inline script.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape

from shared.problems import problem_response

DOCS, REDOC, ASSETS = "/docs", "/redoc", "/docs/static"
HTML_PATHS = frozenset({DOCS, REDOC})
_BUNDLE = files("fastapi_offline") / "static"
_OWN = Path(__file__).parent / "docs_static"
FILES = {
    "swagger-ui-bundle.js": (_BUNDLE, "text/javascript"),
    "swagger-ui.css": (_BUNDLE, "text/css"),
    "redoc.standalone.js": (_BUNDLE, "text/javascript"),
    "favicon.png": (_BUNDLE, "image/png"),
    "swagger-init.js": (_OWN, "text/javascript"),
}


def _swagger_page(title: str, openapi_url: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} - Swagger UI</title>
<link rel="icon" href="{ASSETS}/favicon.png">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/swagger-init.js"></script>
</body>
</html>
"""


def _redoc_page(title: str, openapi_url: str) -> str:
    # ReDoc's standalone build renders every <redoc spec-url> element by itself: no script of ours at all.
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} - ReDoc</title>
<link rel="icon" href="{ASSETS}/favicon.png">
</head>
<body>
<redoc spec-url="{escape(openapi_url)}"></redoc>
<script src="{ASSETS}/redoc.standalone.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """The app must be built with ``docs_url=None, redoc_url=None``; these routes take their place. Plain
    routes, as FastAPI adds its own docs pages: public, and outside the OpenAPI document they show."""
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui(_request: Request) -> HTMLResponse:
        return HTMLResponse(_swagger_page(app.title, openapi_url))

    async def redoc(_request: Request) -> HTMLResponse:
        return HTMLResponse(_redoc_page(app.title, openapi_url))

    async def docs_asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in FILES:
            return problem_response(404, "not found", f"no documentation file {name[:40]}")
        folder, media_type = FILES[name]
        return Response((folder / name).read_bytes(), media_type=media_type,
                        headers={"Cache-Control": "public, max-age=86400"})

    app.add_route(DOCS, swagger_ui, include_in_schema=False)
    app.add_route(REDOC, redoc, include_in_schema=False)
    app.add_route(ASSETS + "/{name}", docs_asset, include_in_schema=False)
