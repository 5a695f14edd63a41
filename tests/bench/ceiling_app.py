"""The ceiling: a bare ASGI app answering a fixed JSON body as large as the measured service's answer,
served by the same uvicorn settings as the services. What a service reaches is measured against what this
reaches on the same machine, in the same run, round after round.

    python -m tests.bench.ceiling_app PORT [GET_BYTES [POST_BYTES]]
"""

from __future__ import annotations

import sys

import orjson
import uvicorn

_SMALL = orjson.dumps({"nip": "198609262015051001", "blocked": False, "since": None, "blocks": []})


def body_of(size: int) -> bytes:
    """A JSON document of ``size`` bytes (at least the small block answer's)."""
    if size <= len(_SMALL):
        return _SMALL
    padding = size - len(orjson.dumps({"pad": ""}))
    return orjson.dumps({"pad": "x" * max(0, padding)})


def make_app(get_bytes: int, post_bytes: int):  # noqa: ANN201 - an ASGI callable
    answers = {}
    for method, size in (("GET", get_bytes), ("POST", post_bytes)):
        body = body_of(size)
        answers[method] = (body, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())])

    async def app(scope, receive, send):  # noqa: ANN001 - the ASGI signature
        if scope["type"] != "http":
            return
        if scope["method"] == "POST":
            while (await receive()).get("more_body"):
                pass
        body, headers = answers.get(scope["method"], answers["GET"])
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


if __name__ == "__main__":
    get_size = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    post_size = int(sys.argv[3]) if len(sys.argv) > 3 else get_size
    # As services.cli serve runs the services: no access log, uvicorn's own choice of loop and parser.
    uvicorn.run(make_app(get_size, post_size), host="127.0.0.1", port=int(sys.argv[1]), log_config=None,
                access_log=False)
