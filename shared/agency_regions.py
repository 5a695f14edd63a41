"""Keeping ``shared.regions`` current with a service's own agency registry: a background loop that reads
the provinces the service has folded (from ``sbt.agency.registered.v1``) and tells them to
``learn_provinces``, at start and every ``poll_seconds`` after, on every replica alike (another replica's
consumer may be the one that folded a registration). The request path never queries: ``scope_of`` answers
from the offices' sets in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from shared.regions import learn_provinces

log = logging.getLogger("sbt.agency_regions")

POLL_SECONDS = 1.0

# Reads agency code -> province (None: central) of the registry, all of it or what is new since the last read.
ReadProvinces = Callable[[], Awaitable[Mapping[str, str | None]]]


async def follow(read: ReadProvinces, poll_seconds: float = POLL_SECONDS) -> None:
    while True:
        try:
            provinces = await read()
            if provinces and learn_provinces(provinces):
                log.info("regional offices follow the agency registry (%d agencies read)", len(provinces))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the database restarting: the offices keep what they knew, retried
            log.exception("agency regions: refresh failed")
        await asyncio.sleep(poll_seconds)


def log_reader(sessions: Callable[[], Any], table: Any) -> ReadProvinces:
    """A reader of the agency registrations kept in a service's log of events (``table``: a mapped class with
    ``stream_seq``, ``event_type`` and the signed ``envelope``), incrementally: at start all of them, then on
    each poll those logged since."""
    import orjson
    from sqlalchemy import select

    from shared.events.reference import AgencyRegistered

    after = 0

    async def read() -> dict[str, str | None]:
        nonlocal after
        async with sessions() as session:
            rows = (await session.execute(
                select(table.stream_seq, table.envelope)
                .where(table.event_type == AgencyRegistered.event_type, table.stream_seq > after)
                .order_by(table.stream_seq))).all()
        provinces: dict[str, str | None] = {}
        for row in rows:  # in stream order: a later registration of the same agency wins
            data = orjson.loads(row.envelope).get("data") or {}
            if isinstance(data.get("code"), str):
                province = data.get("province")
                provinces[data["code"]] = province if isinstance(province, str) else None
        if rows:
            after = int(rows[-1].stream_seq)
        return provinces

    return read
