"""Reading reference files and validating their rows, free of database I/O.

Files are CSV (``.csv``, header row), JSON (``.json``, one array of objects) or JSON Lines (``.jsonl`` or
``.ndjson``), chosen by extension. All three are read as streams, one row at a time, so a roster of
millions of rows never sits in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from pydantic import ValidationError

from shared import nip as nip_rules
from shared.events.base import EventData
from shared.events.reference import AgencyRegistered, ElectionRegistered, ViolationRegistered

Kind = Literal["roster", "agencies", "elections", "violations"]
KINDS: tuple[Kind, ...] = ("roster", "agencies", "elections", "violations")

ROSTER_COLUMNS = ("nip", "name", "agency_code", "unit", "position", "province", "employment_type")
AGENCY_COLUMNS = ("code", "name", "level", "province", "ppk_title", "ppk_name")
ELECTION_COLUMNS = ("code", "name", "kind", "voting_date", "regions", "oversight_from", "oversight_until")
VIOLATION_COLUMNS = ("code", "category", "description", "legal_basis", "default_sanction")
COLUMNS: dict[Kind, tuple[str, ...]] = {
    "roster": ROSTER_COLUMNS,
    "agencies": AGENCY_COLUMNS,
    "elections": ELECTION_COLUMNS,
    "violations": VIOLATION_COLUMNS,
}
REQUIRED: dict[Kind, frozenset[str]] = {
    "roster": frozenset({"nip", "name", "agency_code"}),
    "agencies": frozenset({"code", "name", "level", "ppk_title"}),
    "elections": frozenset({"code", "name", "kind", "voting_date", "oversight_from", "oversight_until"}),
    "violations": frozenset(VIOLATION_COLUMNS),
}

# The same shape intake accepts for agency and violation codes in a report.
CODE = re.compile(r"^[A-Z0-9][A-Z0-9_\-]{0,39}$")
EMPLOYMENT_TYPES = frozenset({"PNS", "PPPK"})
# In CSV, an election's regions are one cell separated by semicolons.
REGION_SEPARATOR = ";"


class FileFormatError(ValueError):
    """The file as a whole cannot be read (unknown extension, missing columns, not an array...)."""


class RowError(ValueError):
    """One row is invalid: ``field`` and ``reason`` say why, as in the API's problem bodies."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass
class Rejections:
    """Invalid rows: counted by field, the first thousand kept with their line (or item) numbers (enough to
    name every one in a file of typing slips, bounded for a roster that is wrong throughout)."""

    keep: int = 1000
    count: int = 0
    by_field: dict[str, int] = field(default_factory=dict)
    examples: list[tuple[int, str, str]] = field(default_factory=list)

    def add(self, line: int, error: RowError) -> None:
        self.count += 1
        self.by_field[error.field] = self.by_field.get(error.field, 0) + 1
        if len(self.examples) < self.keep:
            self.examples.append((line, error.field, error.reason))


# ---------------------------------------------------------------------------------------------- files


def file_format(path: Path) -> Literal["csv", "json", "jsonl"]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "json"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise FileFormatError(f"{path.name}: unknown extension {suffix or '(none)'}; use .csv, .json or .jsonl")


def iter_rows(stream: IO[str], fmt: str, kind: Kind) -> Iterator[tuple[int, dict]]:
    """``(line or item number, row)`` pairs, read lazily from an open text stream."""
    if fmt == "csv":
        yield from _csv_rows(stream, kind)
    elif fmt == "jsonl":
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, _object(json.loads(line), number)
    else:
        for number, item in enumerate(iter_json_array(stream), start=1):
            yield number, _object(item, number)


def _object(item: object, number: int) -> dict:
    if not isinstance(item, dict):
        raise FileFormatError(f"item {number}: expected an object, got {type(item).__name__}")
    return item


def _csv_rows(stream: IO[str], kind: Kind) -> Iterator[tuple[int, dict]]:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        return
    header = [name.strip().lstrip("\ufeff").lower() for name in header]
    missing = REQUIRED[kind] - set(header)
    if missing:
        raise FileFormatError(f"CSV header lacks column(s): {', '.join(sorted(missing))}")
    unknown = set(header) - set(COLUMNS[kind])
    if unknown:
        raise FileFormatError(f"CSV header has unknown column(s): {', '.join(sorted(unknown))}")
    width = len(header)
    for values in reader:
        if not values:
            continue
        if len(values) != width:
            yield reader.line_num, {"__width__": len(values), "__expected__": width}
            continue
        yield reader.line_num, dict(zip(header, values, strict=True))


def iter_json_array(stream: IO[str], chunk_size: int = 1 << 16) -> Iterator[object]:
    """The items of a top-level JSON array, decoded one at a time from a stream of any size."""
    decoder = json.JSONDecoder()
    buffer, position, at_end = "", 0, False

    def more() -> bool:
        nonlocal buffer, position, at_end
        chunk = stream.read(chunk_size)
        if not chunk:
            at_end = True
            return False
        buffer, position = buffer[position:] + chunk, 0
        return True

    def skip_space() -> str | None:
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n":
                position += 1
            if position < len(buffer):
                return buffer[position]
            if not more():
                return None

    if skip_space() != "[":
        raise FileFormatError("a .json file must hold one array of objects")
    position += 1
    expect_comma = False
    while True:
        char = skip_space()
        if char is None:
            raise FileFormatError("the JSON array is not closed")
        if char == "]":
            return
        if expect_comma:
            if char != ",":
                raise FileFormatError(f"expected ',' between array items, got {char!r}")
            position += 1
            expect_comma = False
            continue
        try:
            item, end = decoder.raw_decode(buffer, position)
        except json.JSONDecodeError as error:
            if at_end or not more():  # a truncated item needs more text; an invalid one never parses
                raise FileFormatError(f"invalid JSON: {error}") from None
            continue
        position = end
        expect_comma = True
        yield item


# ----------------------------------------------------------------------------------------------- rows


def _text(row: dict, name: str, *, max_length: int, required: bool = False) -> str | None:
    value = row.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    if not value:
        if required:
            raise RowError(name, "is required")
        return None
    if len(value) > max_length:
        raise RowError(name, f"must be at most {max_length} characters")
    return value


def _check_width(row: dict) -> None:
    if "__width__" in row:
        raise RowError("row", f"has {row['__width__']} values, the header has {row['__expected__']}")


def parse_roster_row(row: dict) -> tuple[str, str, str, str | None, str | None, str | None, str]:
    """A roster row as the tuple that is written (columns in ``ROSTER_COLUMNS`` order).

    NIPs are validated with the PNS rule for PPPK rows too: the PPPK layout is not settled, and intake
    validates every reported NIP with the PNS rule, so a row it would refuse could never be looked up.
    """
    _check_width(row)
    raw_nip = row.get("nip")
    try:
        nip = nip_rules.parse(str(raw_nip) if raw_nip is not None else "").value
    except nip_rules.InvalidNip as error:
        raise RowError("nip", error.reason) from None
    name = _text(row, "name", max_length=200, required=True)
    agency_code = _text(row, "agency_code", max_length=40, required=True).upper()
    if not CODE.match(agency_code):
        raise RowError("agency_code", "must be capital letters, digits, '-' or '_'")
    unit = _text(row, "unit", max_length=200)
    position = _text(row, "position", max_length=200)
    province = _text(row, "province", max_length=100)
    employment = (_text(row, "employment_type", max_length=40) or "PNS").upper()
    if employment not in EMPLOYMENT_TYPES:
        raise RowError("employment_type", "must be PNS or PPPK")
    return nip, name, agency_code, unit, position, province.upper() if province else None, employment


def _optional(row: dict, name: str) -> object:
    value = row.get(name)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _model(model: type[EventData], values: dict) -> EventData:
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        raise RowError(".".join(str(part) for part in first["loc"]) or "row", first["msg"]) from None


def parse_agency_row(row: dict) -> AgencyRegistered:
    _check_width(row)
    values = {name: _optional(row, name) for name in AGENCY_COLUMNS}
    _require_code(values, "code")
    if isinstance(values["level"], str):
        values["level"] = values["level"].lower()
    if isinstance(values["province"], str):
        values["province"] = values["province"].upper()
    return _model(AgencyRegistered, values)


def parse_election_row(row: dict) -> ElectionRegistered:
    _check_width(row)
    values = {name: _optional(row, name) for name in ELECTION_COLUMNS}
    _require_code(values, "code")
    if not re.fullmatch(r"[A-Z]+-[0-9]{4}", values["code"]):
        raise RowError("code", "must look like PEMILU-2024 or PILKADA-2024")
    if isinstance(values["kind"], str):
        values["kind"] = values["kind"].lower()
    days = {name: _iso_day(values, name) for name in ("voting_date", "oversight_from", "oversight_until")}
    if days["oversight_from"] > days["oversight_until"]:
        raise RowError("oversight_until", "must not be before oversight_from")
    if not days["oversight_from"] <= days["voting_date"] <= days["oversight_until"]:
        raise RowError("voting_date", "must lie within the oversight period")
    values.update({name: day.isoformat() for name, day in days.items()})
    regions = values["regions"]
    if regions is None:
        values["regions"] = []
    elif isinstance(regions, str):
        values["regions"] = [part.strip().upper() for part in regions.split(REGION_SEPARATOR) if part.strip()]
    elif isinstance(regions, list) and all(isinstance(part, str) for part in regions):
        values["regions"] = [part.strip().upper() for part in regions if part.strip()]
    else:
        raise RowError("regions", "must be a list of region names")
    return _model(ElectionRegistered, values)


def _iso_day(values: dict, name: str) -> dt.date:
    value = values.get(name)
    if value is None:
        raise RowError(name, "is required")
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise RowError(name, "must be an ISO date (YYYY-MM-DD)") from None


def parse_violation_row(row: dict) -> ViolationRegistered:
    _check_width(row)
    values = {name: _optional(row, name) for name in VIOLATION_COLUMNS}
    _require_code(values, "code")
    for name in ("category", "default_sanction"):
        if isinstance(values[name], str):
            values[name] = values[name].lower()
    return _model(ViolationRegistered, values)


def _require_code(values: dict, name: str) -> None:
    code = values.get(name)
    if not isinstance(code, str) or not code:
        raise RowError(name, "is required")
    code = code.upper()
    if not CODE.match(code):
        raise RowError(name, "must be capital letters, digits, '-' or '_' (at most 40)")
    values[name] = code


REFERENCE_PARSERS = {
    "agencies": parse_agency_row,
    "elections": parse_election_row,
    "violations": parse_violation_row,
}
