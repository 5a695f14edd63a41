"""NIP (Nomor Induk Pegawai) of a PNS: 18 digits.

Layout: birth date YYYYMMDD, start of service (TMT CPNS) YYYYMM, sex digit (1 male, 2 female),
serial 001-999; e.g. ``19860926 201505 1 001``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

_SEPARATORS = re.compile(r"[\s.\-]")


class InvalidNip(ValueError):
    """The NIP is malformed; ``reason`` says exactly what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Nip:
    value: str
    birth_date: dt.date
    service_start: dt.date  # first day of the TMT CPNS month
    sex: str  # "male" | "female"
    serial: int

    def __str__(self) -> str:
        return self.value


def normalize(raw: str) -> str:
    """Drop the spaces, dots and dashes people type between the NIP's groups."""
    return _SEPARATORS.sub("", raw)


# The hot reads parse the NIP of every request, and a busy personnel system asks about the same ones again;
# a Nip is immutable, so a remembered one is as good as a new one (a refused NIP raises and is not kept).
@lru_cache(maxsize=65_536)
def parse(raw: str) -> Nip:
    value = normalize(raw)
    if not value.isascii() or not value.isdigit():
        raise InvalidNip("must contain only digits")
    if len(value) != 18:
        raise InvalidNip(f"must be 18 digits, got {len(value)}")
    try:
        birth = dt.date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise InvalidNip(f"birth date {value[0:8]} is not a real date") from None
    year, month = int(value[8:12]), int(value[12:14])
    if not 1 <= month <= 12 or year < 1:
        raise InvalidNip(f"start of service {value[8:14]} is not a real month")
    start = dt.date(year, month, 1)
    if start <= birth:
        raise InvalidNip("start of service must come after the birth date")
    if value[14] not in "12":
        raise InvalidNip(f"sex digit must be 1 or 2, got {value[14]}")
    serial = int(value[15:18])
    if serial == 0:
        raise InvalidNip("serial must be 001 to 999, got 000")
    return Nip(value, birth, start, "male" if value[14] == "1" else "female", serial)


def is_valid(raw: str) -> bool:
    try:
        parse(raw)
    except InvalidNip:
        return False
    return True
