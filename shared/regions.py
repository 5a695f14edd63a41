"""BKN's regional offices (Kantor Regional, Kanreg) and the agencies each one oversees.

Which provinces an office covers is data (deploy/seed/bkn_regional_offices.csv); which province an agency
belongs to is the agencies seed's ``province`` column (deploy/seed/agencies.csv). An office's agencies are
those whose province it covers: central agencies (no province) belong to no office. Read once per process,
because ``shared.authz.scope_of`` asks on every request, hot paths included.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
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
def agencies_of_office(code: str) -> frozenset[str]:
    """The agencies regional office ``code`` oversees; none for an unknown office (deny by default)."""
    office = offices().get(code)
    if office is None:
        return frozenset()
    provinces = read_agency_provinces(SEED / AGENCIES_FILE)
    return frozenset(agency for agency, province in provinces.items() if province in office.provinces)
