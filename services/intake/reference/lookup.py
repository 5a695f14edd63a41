"""Routing a report with the roster: the roster, not the reporter, says which agency (and so which PPK)
a civil servant belongs to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.reference.models import RosterEntry


@dataclass(frozen=True)
class Routing:
    agency_code: str | None
    province: str | None
    # True: the NIP is in the roster; False: a roster is loaded and the NIP is not in it (the report is
    # accepted and flagged); None: no roster is loaded, so nothing can be said.
    nip_in_roster: bool | None


@dataclass(frozen=True)
class RosterRow:
    """What routing needs of a roster entry."""

    agency_code: str
    province: str | None


def route(
    entry: RosterEntry | RosterRow | None, *, roster_loaded: bool, agency_code: str | None, province: str | None
) -> Routing:
    if entry is not None:
        return Routing(agency_code=entry.agency_code, province=province or entry.province, nip_in_roster=True)
    return Routing(agency_code=agency_code, province=province, nip_in_roster=False if roster_loaded else None)


# Databases whose roster is known to be loaded. A roster is only ever added to or replaced, never
# emptied, so once seen it stays loaded; remembering it saves a query in every report's transaction.
_loaded_rosters: set[str] = set()


async def roster_entries(session: AsyncSession, nips: Iterable[str]) -> tuple[dict[str, RosterRow], bool]:
    """The roster's rows for ``nips`` (one query for a whole group of reports), and whether a roster is
    loaded at all."""
    roster = RosterEntry.__table__
    wanted = sorted(set(nips))
    rows = (
        await session.execute(
            select(roster.c.nip, roster.c.agency_code, roster.c.province).where(roster.c.nip.in_(wanted))
        )
    ).all() if wanted else []
    entries = {row.nip: RosterRow(row.agency_code, row.province) for row in rows}
    database = str(session.bind.url) if session.bind is not None else ""
    loaded = bool(entries) or database in _loaded_rosters
    if not loaded:
        loaded = await session.scalar(select(roster.c.nip).limit(1)) is not None
    if loaded:
        _loaded_rosters.add(database)
    return entries, loaded
