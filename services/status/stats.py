"""The figures: the case funnel (reported, verified, proven, recommended, followed up, overdue, blocked,
unblocked, and the cases closed on the way) overall and by election, province and agency.

Each case row keeps its funnel flags as columns, derived from its status by ``columns_of`` whenever the
status changes, so every figure is one aggregate query over the read model.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.status.models import CaseRow
from shared.status_model import CaseStatus, Stage

UNKNOWN = "unknown"  # the breakdown key of cases whose province or agency was not reported


def columns_of(state: CaseStatus) -> dict[str, Any]:
    """The case row's derived columns: pure, so a rebuild from the log gives the same figures."""
    stages_reached = {change.stage for change in state.history} | {state.stage}
    recommended = state.recommendation_number is not None
    examined_proven = state.examining_authority is not None and Stage.NOT_PROVEN not in stages_reached
    return {
        "verified": Stage.AWAITING_EXAMINATION in stages_reached or state.examining_authority is not None,
        "proven": examined_proven or recommended,
        "recommended": recommended,
        "followed_up": state.decree_number is not None,
        "overdue": state.overdue,
        "blocked": state.blocked,
        "unblocked": state.unblocked,
        # A status folded before these flags existed still counts a block it holds or had.
        "ever_blocked": state.ever_blocked or state.blocked or state.unblocked,
        "unblocked_after_followup": state.unblocked_after_followup,
        "unblocked_by_hand": state.unblocked_by_hand,
        "block_declined": state.block_declined,
        "due_date": dt.date.fromisoformat(state.due_date) if state.due_date else None,
    }


# Figure name -> the condition a case meets to count in it. "blocked" counts the cases blocked now,
# "ever_blocked" those blocked at some point, "unblocked" those whose block was lifted (after a follow-up,
# or by hand: counted apart too); "overdue" those overdue now.
MEASURES: dict[str, ColumnElement[bool]] = {
    "verified": CaseRow.verified.is_(True),
    "proven": CaseRow.proven.is_(True),
    "recommended": CaseRow.recommended.is_(True),
    "followed_up": CaseRow.followed_up.is_(True),
    "overdue": CaseRow.overdue.is_(True),
    "blocked": CaseRow.blocked.is_(True),
    "unblocked": CaseRow.unblocked.is_(True),
    "ever_blocked": CaseRow.ever_blocked.is_(True),
    "unblocked_after_followup": CaseRow.unblocked_after_followup.is_(True),
    "unblocked_by_hand": CaseRow.unblocked_by_hand.is_(True),
    "block_declined": CaseRow.block_declined.is_(True),
    "awaiting_ppk": CaseRow.stage == Stage.AWAITING_PPK.value,
    "rejected": CaseRow.stage == Stage.REJECTED.value,
    "not_proven": CaseRow.stage == Stage.NOT_PROVEN.value,
    "cancelled": CaseRow.stage == Stage.CANCELLED.value,
    "out_of_service": CaseRow.stage == Stage.OUT_OF_SERVICE.value,
}
FIGURES = ("reported", *MEASURES)

BREAKDOWNS = {"by_election": CaseRow.election_code, "by_province": CaseRow.province, "by_agency": CaseRow.agency_code}


def _aggregates() -> list:
    counted = [func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer).label(name)
               for name, condition in MEASURES.items()]
    return [func.count().label("reported"), *counted]


def _filtered(query: Select, *, election: str | None, province: str | None, agency: str | None,
              agencies: frozenset[str] | None = None) -> Select:
    if election:
        query = query.where(CaseRow.election_code == election)
    if province:
        query = query.where(CaseRow.province == province)
    if agency:
        query = query.where(CaseRow.agency_code == agency)
    if agencies is not None:  # the caller's scope (a region's agencies): never figures beyond it
        query = query.where(CaseRow.agency_code.in_(sorted(agencies)))
    return query


def _funnel(row: Any) -> dict[str, int]:
    return {name: int(getattr(row, name) or 0) for name in FIGURES}


async def funnel(
    session: AsyncSession, *, election: str | None = None, province: str | None = None, agency: str | None = None,
    agencies: frozenset[str] | None = None,
) -> dict[str, Any]:
    """{"total": funnel, "by_election": {code: funnel}, "by_province": ..., "by_agency": ...}; ``agencies``:
    only these agencies' cases (the caller's scope), None for every agency's."""
    filters = {"election": election, "province": province, "agency": agency, "agencies": agencies}
    total = (await session.execute(_filtered(select(*_aggregates()), **filters))).one()
    figures: dict[str, Any] = {"total": _funnel(total)}
    for name, column in BREAKDOWNS.items():
        query = _filtered(select(column.label("key"), *_aggregates()).group_by(column), **filters)
        rows = (await session.execute(query)).all()
        ordered = sorted(rows, key=lambda r: (-r.reported, r.key or ""))
        figures[name] = {row.key or UNKNOWN: _funnel(row) for row in ordered}
    return figures
