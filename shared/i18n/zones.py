"""Which of Indonesia's three time zones each province keeps (data in ``provinces.csv``): people read a
time in their own zone, the log keeps UTC."""

from __future__ import annotations

import csv
import datetime as dt
import functools
from pathlib import Path

ZONES = {"WIB": 7, "WITA": 8, "WIT": 9}
# A civil servant whose province is not known: the capital's zone, and the page says WIB.
DEFAULT_ZONE = "WIB"


@functools.cache
def province_zones() -> dict[str, str]:
    with (Path(__file__).parent / "provinces.csv").open(encoding="utf-8") as source:
        return {row["province"].strip().upper(): row["zone"].strip() for row in csv.DictReader(source)}


def zone_of(province: str | None) -> str:
    return province_zones().get((province or "").strip().upper(), DEFAULT_ZONE)


def tzinfo(zone: str) -> dt.timezone:
    return dt.timezone(dt.timedelta(hours=ZONES[zone]), zone)
