"""How a list is sorted: by one of a whitelist of keys, each naming a column, never by what the query string
says (a column name from outside would be SQL). ``due`` sorts ascending, ``-due`` descending; a key not in
the list's whitelist falls back to the list's default order, as a link from an older page would expect."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement

SORT_PATTERN = r"^-?[a-z_]{1,20}$"


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool = False

    @property
    def param(self) -> str:
        return ("-" if self.descending else "") + self.key

    def toggled(self, key: str) -> "Sort":
        """What a click on column ``key`` asks for: the other direction of the same column, else ``key`` ascending."""
        if key == self.key:
            return Sort(key, not self.descending)
        return Sort(key)

    def arrow(self, key: str) -> str:
        if key != self.key:
            return ""
        return "▼" if self.descending else "▲"

    def aria(self, key: str) -> str:
        if key != self.key:
            return "none"
        return "descending" if self.descending else "ascending"


def parse(raw: str | None, allowed: Mapping[str, ColumnElement], default: str) -> Sort:
    value = (raw or "").strip()
    key = value.removeprefix("-")
    if key not in allowed:
        value = default
        key = value.removeprefix("-")
    return Sort(key, value.startswith("-"))


def order_by(sort: Sort, allowed: Mapping[str, ColumnElement], *ties: ColumnElement) -> list:
    """The ORDER BY of ``sort``: rows without a value last in both directions (SQLite and PostgreSQL put
    NULLs at opposite ends otherwise), then ``ties`` so that pages never overlap."""
    column = allowed[sort.key]
    return [column.is_(None), column.desc() if sort.descending else column.asc(), *ties]
