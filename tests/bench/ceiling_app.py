"""The ceiling: a bare ASGI app answering a small fixed JSON body, served by the same uvicorn settings as
the services. What the services reach is measured against what this reaches on the same machine."""

from __future__ import annotations

import sys

import orjson
import uvicorn

BODY = orjson.dumps({"nip": "198609262015051001", "blocked": False, "since": None, "blocks": []})
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):  # noqa: ANN001 - the ASGI signature
    if scope["type"] != "http":
        return
    if scope["method"] == "POST":
        while (await receive()).get("more_body"):
            pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
