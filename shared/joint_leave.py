"""Indonesia's joint leave days (cuti bersama), shipped as data with the decree of each
(``shared/calendar_data/cuti_bersama.csv``, see its README)."""

from __future__ import annotations

import csv
import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

SHIPPED = Path(__file__).parent / "calendar_data" / "cuti_bersama.csv"


@dataclass(frozen=True)
class JointLeaveDay:
    day: dt.date
    occasion: str
    decree: str


def read(path: Path) -> dict[dt.date, JointLeaveDay]:
    days: dict[dt.date, JointLeaveDay] = {}
    with path.open(encoding="utf-8", newline="") as source:
        for line, row in enumerate(csv.DictReader(source), start=2):
            day = dt.date.fromisoformat(row["date"].strip())
            occasion, decree = row["occasion"].strip(), row["decree"].strip()
            if not occasion or not decree:
                raise ValueError(f"{path.name} line {line}: every day needs its occasion and decree")
            if day in days:
                raise ValueError(f"{path.name} line {line}: {day} appears twice")
            days[day] = JointLeaveDay(day, occasion, decree)
    return days


@functools.cache
def shipped() -> dict[dt.date, JointLeaveDay]:
    return read(SHIPPED)
