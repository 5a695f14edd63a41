"""Lists as files people open in a spreadsheet: CSV (UTF-8 with a byte-order mark, so Excel reads the
Indonesian letters right) and XLSX (openpyxl, dates as real date cells).

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read as a formula by
a spreadsheet: reasons and names come from outside, so such text is written with a leading apostrophe
(OWASP's advice against CSV injection) and stays text."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook

Cell = str | int | float | dt.date | dt.datetime | None

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Cell) -> Cell:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(_safe(value))


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_text(header) for header in headers])
    for row in rows:
        writer.writerow([_text(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(title: str, headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "SBT")  # Excel's limit on a sheet's name
    sheet.append([_safe(header) for header in headers])
    for row in rows:
        # Spreadsheets know no time zones: a moment is written as the local time it was shown in.
        sheet.append([value.replace(tzinfo=None) if isinstance(value, dt.datetime) else _safe(value)
                      for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
