"""The agency's books beside the shared log: for every case (a civil servant in an election) the stages and
their dates on each side, and the totals each would publish.

SBT's side is read from the status service's database: its cases of the agency and, for their dates, the
events it logged (the report's day, the recommendation's, the decree's, the block's and its lift's), in
Jakarta's calendar as the books are kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from services.cli.history_rows import HistoryRow, jakarta_day
from services.cli.language import _
from shared.i18n import N_
from shared.db import create_engine, sessionmaker

STAGE_DATES = ("report_date", "recommendation_date", "decree_date", "block_date", "unblock_date", "decision_date")
TOTALS = ("reported", "recommended", "followed_up", "not_followed_up", "ever_blocked", "blocked_now")
# What each total is called where people read it (its key stays the same in --json).
TOTAL_NAMES = {"reported": N_("reported"), "recommended": N_("recommended"), "followed_up": N_("followed up"),
               "not_followed_up": N_("not followed up"), "ever_blocked": N_("ever blocked"),
               "blocked_now": N_("blocked now")}


def _columns() -> list[str]:
    """The differences' column headings, on screen and in the XLSX."""
    return [_("line"), "nip", _("election"), _("difference"), _("field"), _("spreadsheet"), "SBT"]

# The event whose data holds each date in the log, and the field it is in.
_DATE_OF_EVENT = {
    "sbt.case.opened.v1": ("report_date", "opened_at"),
    "sbt.recommendation.issued.v1": ("recommendation_date", "issued_at"),
    "sbt.followup.recorded.v1": ("decree_date", "decree_date"),
    "sbt.personnel.blocked.v1": ("block_date", "blocked_at"),
    "sbt.personnel.unblocked.v1": ("unblock_date", "unblocked_at"),
}
# The events that close a case without a recommendation: (the outcome they mean, the field of their day).
_VERIFIED, _EXAMINED = "sbt.case.verification_decided.v1", "sbt.case.examined.v1"


@dataclass(frozen=True)
class Difference:
    nip: str
    election: str
    kind: str  # missing_in_sbt | missing_in_spreadsheet | date_differs | outcome_differs
    field: str
    spreadsheet: str
    sbt: str
    line: int | None


@dataclass
class Result:
    differences: list[Difference] = field(default_factory=list)
    spreadsheet_totals: dict[str, int] = field(default_factory=dict)
    sbt_totals: dict[str, int] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return not self.differences and self.spreadsheet_totals == self.sbt_totals

    def as_json(self) -> dict[str, Any]:
        return {"matches": self.matches, "differences": [d.__dict__ for d in self.differences],
                "totals": {"spreadsheet": self.spreadsheet_totals, "sbt": self.sbt_totals}}


def totals(dates: Sequence[dict[str, dt.date | None]]) -> dict[str, int]:
    """The figures an agency publishes, from each case's dates (the same rule for both sides)."""
    def lift(case: dict[str, dt.date | None]) -> dt.date | None:
        return case.get("unblock_date") or (case.get("decree_date") if case.get("block_date") else None)

    recommended = sum(1 for c in dates if c.get("recommendation_date"))
    followed = sum(1 for c in dates if c.get("decree_date"))
    return {
        "reported": len(dates), "recommended": recommended, "followed_up": followed,
        "not_followed_up": recommended - followed,
        "ever_blocked": sum(1 for c in dates if c.get("block_date")),
        "blocked_now": sum(1 for c in dates if c.get("block_date") and lift(c) is None),
    }


def _row_dates(row: HistoryRow) -> dict[str, dt.date | None]:
    dates: dict[str, dt.date | None] = {name: getattr(row, name) for name in STAGE_DATES}
    dates["decision_date"] = row.decided_on
    return dates


def _outcome_of(case: dict[str, dt.date | None], ended: str | None) -> str:
    """The case's stage in the log, in the books' terms: proven (recommended), rejected, not proven, or
    still in progress."""
    if case.get("recommendation_date"):
        return "proven"
    return ended or "in_progress"


async def sbt_cases(url: str, agency: str, elections: set[str],
                    outcomes: dict[str, str] | None = None) -> dict[str, dict[str, dt.date | None]]:
    """"<nip>:<election>" -> each stage's day, for the agency's cases in the log (of these elections);
    ``outcomes`` gets the key of each case closed without a recommendation (rejected, not_proven)."""
    from services.status.models import CaseRow, LoggedEvent

    engine = create_engine(url)
    cases: dict[str, dict[str, dt.date | None]] = {}
    try:
        async with sessionmaker(engine)() as session:
            query = select(CaseRow.case_id, CaseRow.nip, CaseRow.election_code).where(CaseRow.agency_code == agency)
            if elections:
                query = query.where(CaseRow.election_code.in_(sorted(elections)))
            keys = {case_id: f"{nip}:{election}" for case_id, nip, election in (await session.execute(query)).all()}
            for key in keys.values():
                cases[key] = dict.fromkeys(STAGE_DATES)
            if outcomes is None:
                outcomes = {}
            ids = list(keys)
            for start in range(0, len(ids), 500):
                logged = await session.execute(
                    select(LoggedEvent.subject, LoggedEvent.event_type, LoggedEvent.envelope)
                    .where(LoggedEvent.subject.in_(ids[start:start + 500]),
                           LoggedEvent.event_type.in_([*_DATE_OF_EVENT, _VERIFIED, _EXAMINED]))
                    .order_by(LoggedEvent.stream_seq)
                )
                for subject, event_type, envelope in logged.all():
                    if event_type in (_VERIFIED, _EXAMINED):
                        data = json.loads(envelope)["data"]
                        ended = {"rejected": "rejected", "not_proven": "not_proven"}.get(data.get("outcome"))
                        if ended:  # the last decision holds (a verification decided again, say)
                            outcomes[keys[subject]] = ended
                            cases[keys[subject]]["decision_date"] = jakarta_day(
                                data.get("decided_at") or data.get("examined_at"))
                        continue
                    name, data_field = _DATE_OF_EVENT[event_type]
                    case = cases[keys[subject]]
                    day = jakarta_day(json.loads(envelope)["data"].get(data_field))
                    # The first of each (a case blocked twice keeps its first block and its last lift).
                    if case[name] is None or name == "unblock_date":
                        case[name] = day
            for case in cases.values():  # a lift the log recorded before a later block is no lift of it
                if case["unblock_date"] and case["block_date"] and case["unblock_date"] < case["block_date"]:
                    case["unblock_date"] = None
    finally:
        with contextlib.suppress(Exception):
            await engine.dispose()
    return cases


def _comparable(dates: dict[str, dt.date | None]) -> dict[str, dt.date | None]:
    """A lift the books leave to the decree (no lift date, a decree after the block) is that decree's day."""
    dates = dict(dates)
    if dates.get("block_date") and not dates.get("unblock_date") and dates.get("decree_date"):
        dates["unblock_date"] = dates["decree_date"]
    return dates


async def compare(url: str, agency: str, rows: Sequence[HistoryRow]) -> Result:
    theirs = {row.key: row for row in rows}
    ended: dict[str, str] = {}
    ours = await sbt_cases(url, agency, {row.election for row in rows}, ended)
    result = Result(spreadsheet_totals=totals([_row_dates(row) for row in rows]), sbt_totals=totals(list(ours.values())))
    for key, row in theirs.items():
        case = ours.get(key)
        if case is None:
            result.differences.append(Difference(row.nip, row.election, "missing_in_sbt", "case", "present", "", row.line))
            continue
        mine, yours = _comparable(_row_dates(row)), _comparable(case)
        theirs_outcome = _outcome_of(case, ended.get(key))
        if row.outcome != theirs_outcome:
            result.differences.append(Difference(
                row.nip, row.election, "outcome_differs", "outcome", row.outcome, theirs_outcome, row.line))
        for name in STAGE_DATES:
            if mine[name] != yours[name]:
                result.differences.append(Difference(
                    row.nip, row.election, "date_differs", name, _text(mine[name]), _text(yours[name]), row.line))
    for key in sorted(set(ours) - set(theirs)):
        nip, election = key.split(":", 1)
        result.differences.append(Difference(nip, election, "missing_in_spreadsheet", "case", "", "present", None))
    return result


def _text(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


def print_result(console, result: Result, agency: str) -> None:  # noqa: ANN001 - a rich Console
    from rich.table import Table

    if result.differences:
        table = Table(title=_("{agency}: {count} difference(s)").format(agency=agency, count=f"{len(result.differences):,}"))
        for column in _columns():
            table.add_column(column)
        for d in result.differences:
            table.add_row(str(d.line or ""), d.nip, d.election, d.kind, d.field, d.spreadsheet, d.sbt)
        console.print(table)
    totals_table = Table(title=_("{agency}: totals").format(agency=agency))
    for index, column in enumerate((_("figure"), _("spreadsheet"), "SBT")):
        totals_table.add_column(column, justify="right" if index else "left")
    for name in TOTALS:
        mark = "" if result.spreadsheet_totals[name] == result.sbt_totals[name] else " *"
        totals_table.add_row(_(TOTAL_NAMES[name]) + mark, f"{result.spreadsheet_totals[name]:,}", f"{result.sbt_totals[name]:,}")
    console.print(totals_table)
    console.print(_("the books match the shared log") if result.matches
                  else _("the books differ from the shared log: {count} difference(s)")
                  .format(count=f"{len(result.differences):,}"))


def write_xlsx(path: Path, result: Result) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = _("differences")
    sheet.append(_columns())
    for d in result.differences:
        sheet.append([d.line, d.nip, d.election, d.kind, d.field, d.spreadsheet, d.sbt])
    figures = book.create_sheet(_("totals"))
    figures.append([_("figure"), _("spreadsheet"), "SBT"])
    for name in TOTALS:
        figures.append([_(TOTAL_NAMES[name]), result.spreadsheet_totals[name], result.sbt_totals[name]])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
