"""Reference data is law at the door: a report names an election that exists and was open for reports on
the incident date, an agency, violation types and a province that exist, the province within the
election's regions, and an incident date neither in the future nor outside the oversight period.

``load`` reads what a group of reports needs in one query per table (inside the filing transaction, so a
reference import committed a moment ago already counts); ``refusal`` is the rule, free of I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.reference.models import Agency, Election, Violation
from shared.i18n.zones import province_zones
from shared.problems import Problem

# The easternmost zone (WIT, UTC+9): the last of Indonesia's "todays" to begin, so an incident of today
# anywhere in the country is never taken for one in the future.
_EASTERNMOST = dt.timezone(dt.timedelta(hours=9))
_REGIONAL_LEVELS = ("regency", "city")
_GOVERNMENT = "PEMERINTAH "


@dataclass(frozen=True)
class ElectionRef:
    code: str
    regions: frozenset[str]
    oversight_from: dt.date | None
    oversight_until: dt.date | None


@dataclass(frozen=True)
class References:
    elections: dict[str, ElectionRef]
    agencies: frozenset[str]
    violations: frozenset[str]
    # Regency and city regions (as an election lists them, e.g. "KOTA MEDAN") -> their province, from the
    # regional governments' agency entries ("Pemerintah Kota Medan", province SUMATERA UTARA).
    region_provinces: dict[str, str]
    provinces: frozenset[str]


class _Report(Protocol):
    """What the rule reads of a report (a ``ReportIn``)."""

    election_code: str
    agency_code: str | None
    violation_codes: list[str]
    province: str | None
    incident_date: dt.date


async def load(session: AsyncSession, reports: Iterable[_Report]) -> References:
    reports = list(reports)
    elections = {r.election_code for r in reports}
    agencies = {r.agency_code for r in reports if r.agency_code}
    violations = {code for r in reports for code in r.violation_codes}
    election_rows = (await session.execute(
        select(Election.code, Election.regions, Election.oversight_from, Election.oversight_until)
        .where(Election.code.in_(sorted(elections)))
    )).all() if elections else []
    agency_rows = (await session.execute(
        select(Agency.code, Agency.name, Agency.level, Agency.province)
        .where(or_(Agency.code.in_(sorted(agencies)), Agency.level.in_(_REGIONAL_LEVELS)))
    )).all()
    known_violations = set((await session.scalars(
        select(Violation.code).where(Violation.code.in_(sorted(violations)))
    )).all()) if violations else set()
    return References(
        elections={row.code: ElectionRef(row.code, frozenset(row.regions or ()), row.oversight_from,
                                         row.oversight_until) for row in election_rows},
        agencies=frozenset(row.code for row in agency_rows),
        violations=frozenset(known_violations),
        region_provinces={
            row.name.upper().removeprefix(_GOVERNMENT): row.province
            for row in agency_rows if row.level in _REGIONAL_LEVELS and row.province
        },
        provinces=frozenset(province_zones()),
    )


def today_anywhere(now: dt.datetime) -> dt.date:
    """The latest calendar date anywhere in Indonesia at ``now``."""
    return now.astimezone(_EASTERNMOST).date()


def refusal(report: _Report, refs: References, *, now: dt.datetime) -> Problem | None:
    """Why the report cannot be filed (every reason, each naming its field), or None."""
    errors: list[dict[str, str]] = []

    def refuse(field: str, reason: str) -> None:
        errors.append({"field": field, "reason": reason})

    election = refs.elections.get(report.election_code)
    if election is None:
        refuse("election_code", f"no election {report.election_code} in the reference data")
    if report.incident_date > today_anywhere(now):
        refuse("incident_date", "must not be in the future")
    elif election is not None:
        start, end = election.oversight_from, election.oversight_until
        if start is None or end is None:
            refuse("election_code", f"{election.code} has no oversight period in the reference data")
        elif report.incident_date < start:
            refuse("incident_date", f"is before the oversight period of {election.code} ({start} to {end})")
        elif report.incident_date > end:
            refuse("incident_date", f"is after the oversight period of {election.code} ({start} to {end})")
    if report.agency_code is not None and report.agency_code not in refs.agencies:
        refuse("agency_code", f"no agency {report.agency_code} in the reference data")
    for index, code in enumerate(report.violation_codes):
        if code not in refs.violations:
            refuse(f"violation_codes.{index}", f"no violation type {code} in the catalogue")
    if report.province is not None:
        province = report.province.strip().upper()
        if province not in refs.provinces:
            refuse("province", f"no province {report.province}")
        elif election is not None and not _within(province, election, refs.region_provinces):
            refuse("province", f"{province} is not a region of {election.code}")
    if not errors:
        return None
    first = errors[0]
    return Problem(422, "invalid request", f"{first['field']}: {first['reason']}", errors=errors)


def _within(province: str, election: ElectionRef, region_provinces: dict[str, str]) -> bool:
    """A province is within an election's regions when the election covers it, or one of its regencies
    or cities (a Pilkada held only there)."""
    if province in election.regions:
        return True
    return any(region_provinces.get(region) == province for region in election.regions)
