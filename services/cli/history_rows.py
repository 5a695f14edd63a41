"""An agency's case spreadsheet (CSV or XLSX), read into rows: the columns it may have, in English or
Bahasa Indonesia, and the checks every row passes before anything is written (``sbt import history``,
``sbt reconcile``).

Columns (header names, case and spaces ignored; either name of each pair):

    nip | nip                      the civil servant (18 digits, checked by shared/nip.py)
    name | nama                    optional, shown by reconcile only
    agency | instansi              the agency code (intake's reference data)
    election | pemilihan           the election code (intake's reference data)
    violation | pelanggaran        violation code(s), ``;``-separated (intake's catalogue)
    report_date | tanggal_laporan
    recommendation_date | tanggal_rekomendasi
    decree_date | tanggal_sk       the PPK's follow-up (sanction) decree
    block_date | tanggal_blokir
    unblock_date | tanggal_buka_blokir
    decree_number | nomor_sk       optional
    outcome | hasil                how a case without a recommendation ended (OUTCOMES below)
    decision_date | tanggal_putusan  the day that outcome was decided (rejected, not proven)

Dates are ISO text (``2020-11-02``) or real spreadsheet dates; a number is refused (a date typed as a
number, or a cell that lost its format, must not turn into another day).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ulid import ULID

from services.cli.language import _, current
from shared.clock import JAKARTA
from shared.nip import InvalidNip, parse

COLUMNS: dict[str, tuple[str, ...]] = {
    "nip": ("nip",),
    "name": ("name", "nama"),
    "agency": ("agency", "agency_code", "instansi"),
    "election": ("election", "election_code", "pemilihan"),
    "violation": ("violation", "violation_code", "violations", "pelanggaran"),
    "report_date": ("report_date", "tanggal_laporan"),
    "recommendation_date": ("recommendation_date", "tanggal_rekomendasi"),
    "decree_date": ("decree_date", "followup_date", "tanggal_sk"),
    "block_date": ("block_date", "tanggal_blokir"),
    "unblock_date": ("unblock_date", "lift_date", "tanggal_buka_blokir"),
    "decree_number": ("decree_number", "nomor_sk"),
    "outcome": ("outcome", "hasil"),
    "decision_date": ("decision_date", "tanggal_putusan"),
}


def label(name: str) -> str:
    """A column as the reader calls it: its Indonesian name in Indonesian, else the English one."""
    return COLUMNS[name][-1] if current() == "id" and name in COLUMNS else name


# The books' outcome of a case, in either language. A row with a recommendation date is proven; one without
# must say how it ended, so that a 2020 case does not land in today's verifiers' worklist: rejected at
# verification, examined and not proven, or (the only one left in the live worklists) still in progress.
OUTCOMES: dict[str, str] = {
    "proven": "proven", "terbukti": "proven",
    "rejected": "rejected", "ditolak": "rejected",
    "not_proven": "not_proven", "tidak_terbukti": "not_proven",
    "in_progress": "in_progress", "dalam_proses": "in_progress",
}
_UNRECOMMENDED = "rejected | ditolak, not_proven | tidak_terbukti, in_progress | dalam_proses"
REQUIRED = ("nip", "agency", "election", "violation", "report_date")
DATES = ("report_date", "recommendation_date", "decree_date", "block_date", "unblock_date", "decision_date")
_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class SheetError(Exception):
    """The file as a whole cannot be read (no header, a missing column, not CSV/XLSX)."""


@dataclass(frozen=True)
class Refusal:
    line: int
    reason: str


@dataclass(frozen=True)
class HistoryRow:
    line: int
    nip: str
    name: str | None
    agency: str
    election: str
    violations: tuple[str, ...]
    report_date: dt.date
    recommendation_date: dt.date | None = None
    decree_date: dt.date | None = None
    block_date: dt.date | None = None
    unblock_date: dt.date | None = None
    decree_number: str | None = None
    outcome: str = "proven"  # proven, rejected, not_proven or in_progress (OUTCOMES)
    decision_date: dt.date | None = None

    @property
    def decided_on(self) -> dt.date | None:
        """The day the verification (rejected) or examination (not proven) was decided."""
        return self.decision_date if self.outcome in ("rejected", "not_proven") else None

    @property
    def key(self) -> str:
        """One case per civil servant and election, in the spreadsheet as in SBT."""
        return f"{self.nip}:{self.election}"

    @property
    def lift_date(self) -> dt.date | None:
        """A block is lifted on its lift date, or else by the decree that followed it."""
        if self.block_date is None:
            return None
        return self.unblock_date or self.decree_date

    @property
    def lifted_after_followup(self) -> bool:
        lift = self.lift_date
        return lift is not None and self.decree_date is not None and self.decree_date <= lift


@dataclass
class Sheet:
    path: Path
    rows: list[HistoryRow] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    sha256: str = ""


def _header_map(header: list[Any]) -> dict[str, int]:
    aliases = {alias: name for name, names in COLUMNS.items() for alias in names}
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        label = re.sub(r"[\s\-]+", "_", str(cell or "").strip().lower())
        if label in aliases:
            found.setdefault(aliases[label], index)
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        raise SheetError(f"missing column(s): {', '.join(missing)} (accepted names: "
                         + "; ".join(f"{' | '.join(COLUMNS[name])}" for name in missing) + ")")
    return found


def _raw_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("r", encoding="utf-8-sig", newline="") as stream:
            for number, row in enumerate(csv.reader(stream), start=1):
                yield number, list(row)
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not a workbook
            raise SheetError(f"not a readable XLSX workbook ({error.__class__.__name__})") from None
        try:
            for number, row in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
                yield number, list(row)
        finally:
            book.close()
    else:
        raise SheetError("must be a .csv or an .xlsx file")


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, int | float):
        if name == "nip":
            raise ValueError(_("nip: a number, not text (18 digits lose precision as a number: format the column as text)"))
        value = str(value)
    if isinstance(value, dt.date):
        raise ValueError(_("{name}: a date, not text").format(name=label(name)))
    text = str(value).strip()
    return text or None


def _date(value: Any, name: str) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise ValueError(_("{name}: {value_isoformat} has a time of day; a date is expected").format(name=label(name), value_isoformat=value.isoformat()))
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool) or isinstance(value, int | float):
        raise ValueError(_("{name}: {value} is a number, not a date (write YYYY-MM-DD or format the cell as a date)").format(name=label(name), value=repr(value)))
    text = str(value).strip()
    if not _ISO.match(text):
        raise ValueError(_("{name}: {text} is not a date in YYYY-MM-DD form").format(name=label(name), text=repr(text)))
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(_("{name}: {text} is not a real date").format(name=label(name), text=text)) from None


def _row(line: int, cells: list[Any], columns: dict[str, int]) -> HistoryRow:
    def cell(name: str) -> Any:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else None

    values: dict[str, Any] = {}
    for name in ("nip", "name", "agency", "election", "violation", "decree_number", "outcome"):
        values[name] = _text(cell(name), name)
    for name in REQUIRED:
        if name not in DATES and not values[name]:
            raise ValueError(_("{name}: required").format(name=label(name)))
    try:
        nip = parse(values["nip"]).value
    except InvalidNip as invalid:
        raise ValueError(_("nip: {invalid_reason}").format(invalid_reason=invalid.reason)) from None
    dates = {name: _date(cell(name), name) for name in DATES}
    if dates["report_date"] is None:
        raise ValueError(_("report_date: required"))
    _check_order(dates)
    outcome = _outcome(values["outcome"], dates)
    violations = tuple(sorted({code.strip().upper() for code in re.split(r"[;,]", values["violation"]) if code.strip()}))
    return HistoryRow(
        line=line, nip=nip, name=values["name"], agency=values["agency"].upper(), election=values["election"].upper(),
        violations=violations, decree_number=values["decree_number"], outcome=outcome, **dates,
    )


def _outcome(text: str | None, dates: dict[str, dt.date | None]) -> str:
    """The row's outcome, checked against its dates: proven with a recommendation date, otherwise one of
    rejected, not proven (each with the day it was decided) or in progress. An empty outcome without a
    recommendation is refused: the books must say how the case ended."""
    label = re.sub(r"[\s\-]+", "_", text.strip().lower()) if text else None
    if label is not None and label not in OUTCOMES:
        raise ValueError(_("outcome: {text} is not one of proven | terbukti, {UNRECOMMENDED}").format(text=repr(text), UNRECOMMENDED=_UNRECOMMENDED))
    outcome = OUTCOMES[label] if label else None
    decided, report = dates["decision_date"], dates["report_date"]
    assert report is not None
    if dates["recommendation_date"] is not None:
        if outcome not in (None, "proven"):
            raise ValueError(_("outcome: {text} with a recommendation_date (a recommended case is proven)").format(text=text))
        if decided is not None:
            raise ValueError(_("decision_date: given with a recommendation_date (the recommendation is the decision)"))
        return "proven"
    if outcome is None:
        raise ValueError(_("outcome: required without a recommendation_date (one of {UNRECOMMENDED})").format(UNRECOMMENDED=_UNRECOMMENDED))
    if outcome == "proven":
        raise ValueError(_("outcome: proven without a recommendation_date"))
    if outcome == "in_progress":
        if decided is not None:
            raise ValueError(_("decision_date: given for a case in progress (nothing is decided yet)"))
        return outcome
    if decided is None:
        raise ValueError(_("decision_date: required for the outcome {outcome}").format(outcome=outcome))
    if decided < report:
        raise ValueError(_("decision_date: {decided} is before the report_date {report}").format(decided=decided, report=report))
    return outcome


def _check_order(dates: dict[str, dt.date | None]) -> None:
    """The stages in the order the procedure has them: report, recommendation, then decree or block."""
    report, recommendation = dates["report_date"], dates["recommendation_date"]
    decree, block, unblock = dates["decree_date"], dates["block_date"], dates["unblock_date"]
    assert report is not None
    if recommendation is not None and recommendation < report:
        raise ValueError(_("recommendation_date: {recommendation} is before the report_date {report}").format(recommendation=recommendation, report=report))
    for name, day in (("decree_date", decree), ("block_date", block)):
        if day is not None and recommendation is None:
            raise ValueError(_("{name}: given without a recommendation_date").format(name=label(name)))
        if day is not None and recommendation is not None and day < recommendation:
            raise ValueError(_("{name}: {day} is before the recommendation_date {recommendation}").format(name=label(name), day=day, recommendation=recommendation))
    if block is not None and decree is not None and decree < block:
        raise ValueError(_("block_date: {block} is after the decree_date {decree} (a followed-up case is not blocked)").format(block=block, decree=decree))
    if unblock is not None:
        if block is None:
            raise ValueError(_("unblock_date: given without a block_date"))
        if unblock < block:
            raise ValueError(_("unblock_date: {unblock} is before the block_date {block}").format(unblock=unblock, block=block))


def read_sheet(path: Path) -> Sheet:
    """Every row of the file, each either a HistoryRow or a Refusal naming its line (checks that need no
    reference data: the format, the NIP, the dates and their order, a case given twice)."""
    sheet = Sheet(path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    rows = _raw_rows(path)
    columns: dict[str, int] | None = None
    seen: dict[str, int] = {}
    for line, cells in rows:
        if columns is None:
            if not any(cell not in (None, "") for cell in cells):
                continue
            columns = _header_map(cells)
            continue
        if not any(cell not in (None, "") for cell in cells):
            continue  # blank lines at the end of a sheet
        try:
            row = _row(line, cells, columns)
        except ValueError as error:
            sheet.refusals.append(Refusal(line, str(error)))
            continue
        if row.key in seen:
            sheet.refusals.append(Refusal(line, _("nip: this civil servant's {election} case is on line {line} already")
                                          .format(election=row.election, line=seen[row.key])))
            continue
        seen[row.key] = line
        sheet.rows.append(row)
    if columns is None:
        raise SheetError("no header row")
    return sheet


# --- deterministic identities -----------------------------------------------------------------------------


def stable_id(kind: str, key: str, day: dt.date) -> str:
    """A ULID that is the same every time the same case's same stage is imported: the time part is the
    stage's day (so ids still sort by time), the random part a hash of what it names."""
    millis = int(moment(day).timestamp() * 1000)
    digest = hashlib.sha256(f"sbt-history:{kind}:{key}".encode()).digest()[:10]
    return str(ULID.from_bytes(millis.to_bytes(6, "big") + digest))


def complaint_number(row: HistoryRow) -> str:
    """An imported report's complaint number (never handed to anyone: only its hash is kept)."""
    return f"SBT-IMPOR-{row.report_date.year}-{short_hash('complaint:' + row.key)}"


def short_hash(key: str) -> str:
    return hashlib.sha256(f"sbt-history:{key}".encode()).hexdigest()[:12].upper()


def moment(day: dt.date) -> dt.datetime:
    """The moment a past stage is dated at: 09:00 in Jakarta of its day (the books have days, not times)."""
    return dt.datetime.combine(day, dt.time(9), JAKARTA).astimezone(dt.UTC)


def jakarta_day(value: str | dt.datetime | None) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(JAKARTA).date()
