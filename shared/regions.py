"""BKN's regional offices (Kantor Regional, Kanreg) and the agencies each one oversees.

Which provinces an office covers is data (deploy/seed/bkn_regional_offices.csv); which province an agency
belongs to is the agencies seed's ``province`` column (deploy/seed/agencies.csv), and after it the agency
registry: an agency registered later (``sbt.agency.registered.v1``, e.g. by ``sbt import agencies``) is
told to this module by the service that folds those events (``learn_provinces``), and its province there
wins over the seed's. An office's agencies are those whose province it covers: central agencies (no
province) belong to no office. Answered from memory, because ``shared.authz.scope_of`` asks on every
request, hot paths included: the office's set is recomputed only when a province learned changes it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from collections.abc import Mapping
from functools import cache
from pathlib import Path

SEED = Path(__file__).resolve().parents[1] / "deploy" / "seed"
OFFICES_FILE, AGENCIES_FILE = "bkn_regional_offices.csv", "agencies.csv"


@dataclass(frozen=True)
class RegionalOffice:
    code: str  # "I" .. "XIV"
    name: str
    city: str
    provinces: frozenset[str]


def read_offices(path: Path) -> dict[str, RegionalOffice]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            row["code"].strip(): RegionalOffice(
                code=row["code"].strip(), name=row["name"].strip(), city=row["city"].strip(),
                provinces=frozenset(p.strip() for p in row["provinces"].split(";") if p.strip()),
            )
            for row in csv.DictReader(handle)
        }


def read_agency_provinces(path: Path) -> dict[str, str]:
    """Agency code -> province, for the agencies that belong to one."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["code"].strip(): row["province"].strip() for row in csv.DictReader(handle)
                if (row.get("province") or "").strip()}


@cache
def offices() -> dict[str, RegionalOffice]:
    return read_offices(SEED / OFFICES_FILE)


@cache
def _seeded_provinces() -> dict[str, str]:
    return read_agency_provinces(SEED / AGENCIES_FILE)


# Agency code -> province (None: central, in no province) as the registry said, over the seed.
_registered: dict[str, str | None] = {}


def learn_provinces(provinces: Mapping[str, str | None]) -> bool:
    """The agency registry's provinces (code -> province, None for a central agency); whether any changed
    which province an agency is in (then the offices' sets are recomputed on their next use)."""
    before = agency_provinces()
    _registered.update({code: province or None for code, province in provinces.items()})
    if all(before.get(code) == (province or None) for code, province in provinces.items()):
        return False
    agencies_of_office.cache_clear()
    return True


def agency_provinces() -> dict[str, str]:
    """Agency code -> province: the seed's, overridden by the registry's."""
    merged: dict[str, str | None] = {**_seeded_provinces(), **_registered}
    return {code: province for code, province in merged.items() if province}


def offices_of_agency(agency_code: str) -> frozenset[str]:
    """The regional offices overseeing ``agency_code`` (none for a central agency or an unknown one)."""
    return frozenset(code for code in offices() if agency_code in agencies_of_office(code))


@cache
def agencies_of_office(code: str) -> frozenset[str]:
    """The agencies regional office ``code`` oversees; none for an unknown office (deny by default)."""
    office = offices().get(code)
    if office is None:
        return frozenset()
    return frozenset(agency for agency, province in agency_provinces().items() if province in office.provinces)
