"""The status service's agency registry for ``shared.regions``: the province of every agency registered on
the bus (``sbt.agency.registered.v1``), read from the log (``events``, indexed by type) incrementally."""

from __future__ import annotations

from services.status.models import LoggedEvent
from shared import agency_regions


async def follow(runtime) -> None:  # noqa: ANN001 - the status Runtime
    await agency_regions.follow(agency_regions.log_reader(runtime.sessions, LoggedEvent))
