"""The PPK worklist: an agency's cases at a stage, with their due date and the working days left."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Actor
from shared.authz import may_see_case
from shared.calendar import WorkingCalendar
from shared.status_model import CaseStatus, Stage
from services.status.models import CaseRow

PERMISSION = "ppk_worklist:read"


def may_read(actor: Actor, agency_code: str) -> bool:
    """National readers read every agency's worklist, a PPK only its own agency's, a regional office its
    region's agencies' (shared.authz.scope_of)."""
    return may_see_case(actor, PERMISSION, agency_code)


@dataclass(frozen=True)
class WorkItem:
    state: CaseStatus
    due_date: dt.date | None
    working_days_left: int | None


async def cases(
    session: AsyncSession, *, agency_code: str, stage: Stage, limit: int, offset: int
) -> tuple[int, list[CaseStatus]]:
    """The agency's cases at ``stage``, soonest due first (cases without a due date last)."""
    where = (CaseRow.agency_code == agency_code, CaseRow.stage == stage.value)
    total = int(await session.scalar(select(func.count()).select_from(CaseRow).where(*where)) or 0)
    query = (
        select(CaseRow.state)
        .where(*where)
        .order_by(CaseRow.due_date.is_(None), CaseRow.due_date, CaseRow.case_id)
        .limit(limit)
        .offset(offset)
    )
    states = [CaseStatus.model_validate_json(document) for document in (await session.scalars(query)).all()]
    return total, states


def with_days_left(states: list[CaseStatus], *, today: dt.date, calendar: WorkingCalendar) -> list[WorkItem]:
    """Working days from ``today`` to each due date: 0 on the due day, negative once it has passed."""
    counted: dict[dt.date, int] = {}
    items = []
    for state in states:
        due = dt.date.fromisoformat(state.due_date) if state.due_date else None
        left = None
        if due is not None:
            if due not in counted:
                counted[due] = calendar.working_days_between(today, due)
            left = counted[due]
        items.append(WorkItem(state=state, due_date=due, working_days_left=left))
    return items
