"""A real HTTP server on loopback that receives webhooks: it records every request (time, headers, body)
and answers from a script (e.g. three 503s, then 200s), so a test sees exactly what notify sent."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic()
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class WebhookReceiver:
    def __init__(self, answers: list[int] | None = None, *, default: int = 200,
                 extra_headers: dict[str, str] | None = None) -> None:
        self.answers: deque[int] = deque(answers or [])
        self.default = default
        self.extra_headers = extra_headers or {}
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    code = receiver.answers.popleft() if receiver.answers else receiver.default
                    receiver.received.append(Received(time.monotonic(), self.path,
                                                      {k.lower(): v for k, v in self.headers.items()}, body, code))
                self.send_response(code)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if 200 <= code < 300 else b"not now" * 200)

            def log_message(self, *_args) -> None:  # noqa: ANN002 - quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sbt/webhook"

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:  # noqa: ANN002
        self.server.shutdown()
        self.server.server_close()

    def of_type(self, event_type: str) -> list[Received]:
        import json

        with self._lock:
            return [r for r in self.received if json.loads(r.body).get("type") == event_type]

    def succeeded(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if 200 <= r.answered < 300]
