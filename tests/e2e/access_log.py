"""Reading the access log in tests: it is written in batches (SBT_ACCESS_LOG_FLUSH_SECONDS), so a test waits
until what it looks for is there rather than reading once, right after the requests."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.harness.ports import eventually


async def logged_entries(client: httpx.AsyncClient, until: Callable[[list[dict]], bool], *, what: str,
                         timeout: float = 10, **params: object) -> list[dict]:
    """The access log's entries (``params`` as the ops endpoint takes them), once ``until`` holds for them."""
    async def read() -> list[dict] | None:
        entries = (await client.get("/v1/ops/access-log", params={"limit": 500, **params})).json()["entries"]
        return entries if until(entries) else None

    return await eventually(read, timeout, what)
