"""What the dashboard shows, read from the status service's own read model only (case rows, the event log
it received, the personnel blocks it projected). The funnel itself is ``services.status.stats.funnel``, the
very function behind ``GET /v1/stats``, so the page and the API cannot disagree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import Select, distinct, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.status import stats
from services.status.models import CaseRow, LoggedEvent, PersonnelBlock
from shared.calendar import WorkingCalendar
from shared.status_model import CaseStatus, Stage

OVERDUE = "sbt.followup.overdue.v1"

# The funnel as the dashboard draws it, in order, with the words people use.
FUNNEL_STEPS: tuple[tuple[str, str], ...] = (
    ("reported", "Reported"),
    ("verified", "Verified"),
    ("proven", "Proven"),
    ("recommended", "Recommended"),
    ("followed_up", "Followed up"),
)
SIDE_FIGURES: tuple[tuple[str, str], ...] = (
    ("awaiting_ppk", "Awaiting PPK"),
    ("overdue", "Overdue"),
    ("blocked", "Blocked now"),
    ("unblocked", "Unblocked"),
    ("not_proven", "Not proven"),
    ("rejected", "Rejected"),
    ("cancelled", "Cancelled"),
    ("out_of_service", "Out of service"),
)

STAGE_WORDS = {
    Stage.ALLEGED: "alleged",
    Stage.AWAITING_VERIFICATION: "awaiting verification",
    Stage.AWAITING_EXAMINATION: "awaiting examination",
    Stage.AWAITING_PPK: "awaiting PPK",
    Stage.SANCTIONED: "sanctioned",
    Stage.NOT_PROVEN: "not proven",
    Stage.CANCELLED: "cancelled",
    Stage.REJECTED: "rejected",
    Stage.OUT_OF_SERVICE: "already out of service",
}


@dataclass(frozen=True)
class Filters:
    election: str | None = None
    province: str | None = None
    agency: str | None = None

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in (("election", self.election), ("province", self.province),
                                  ("agency", self.agency)) if v}

    def live_url(self) -> str:
        """The overview's live part with these filters (what the page's script fetches on each change)."""
        return "/dashboard?" + urlencode({**self.as_query(), "part": "live"})

    def apply(self, query: Select) -> Select:
        if self.election:
            query = query.where(CaseRow.election_code == self.election)
        if self.province:
            query = query.where(CaseRow.province == self.province)
        if self.agency:
            query = query.where(CaseRow.agency_code == self.agency)
        return query


@dataclass(frozen=True)
class OverdueCase:
    case_id: str
    nip: str
    election_code: str
    agency_code: str | None
    province: str | None
    due_date: dt.date | None
    working_days_late: int
    calendar_days_late: int
    recommendation_number: str | None
    recommended_level: str | None
    warned: bool
    blocked: bool

    @property
    def ppk_responsible(self) -> str:
        # The PPK is the head of the civil servant's agency (instansi); the read model knows the agency.
        return f"PPK of {self.agency_code}" if self.agency_code else "PPK unknown (no agency reported)"


@dataclass(frozen=True)
class BlockedRow:
    block_id: str
    nip: str
    case_id: str | None
    agency_code: str | None
    cause: str | None
    reason: str | None
    blocked_at: dt.datetime | None


@dataclass(frozen=True)
class CaseLine:
    case_id: str
    nip: str
    election_code: str
    agency_code: str | None
    province: str | None
    stage: str
    stage_words: str
    report_count: int
    updated_at: dt.datetime


@dataclass
class Overview:
    figures: dict[str, Any]
    options: dict[str, list[str]]
    overdue: list[OverdueCase] = field(default_factory=list)
    blocked: list[BlockedRow] = field(default_factory=list)
    recent: list[CaseLine] = field(default_factory=list)
    position: int = 0


def days_late(due: dt.date | None, today: dt.date, calendar: WorkingCalendar) -> tuple[int, int]:
    """(working days, calendar days) past the due date; 0 on the due day and before it."""
    if due is None or due >= today:
        return 0, 0
    return max(-calendar.working_days_between(today, due), 0), (today - due).days


async def filter_options(session: AsyncSession, agency: str | None = None) -> dict[str, list[str]]:
    """The values to filter by; of one agency's cases only, for a caller who sees only that agency."""
    options = {}
    for name, column in (("election", CaseRow.election_code), ("province", CaseRow.province),
                         ("agency", CaseRow.agency_code)):
        query = Filters(agency=agency).apply(select(distinct(column)).where(column.is_not(None)))
        values = (await session.scalars(query)).all()
        options[name] = sorted(values)
    return options


async def overdue_cases(
    session: AsyncSession, filters: Filters, *, today: dt.date, calendar: WorkingCalendar, limit: int = 100
) -> list[OverdueCase]:
    query = filters.apply(
        select(CaseRow.state, CaseRow.due_date).where(CaseRow.overdue.is_(True))
        .order_by(CaseRow.due_date, CaseRow.case_id).limit(limit)
    )
    found = [(CaseStatus.model_validate_json(document), due) for document, due in (await session.execute(query)).all()]
    declared = await overdue_declared_on(session, [state.case_id for state, _ in found])
    rows = []
    for state, due in found:
        # A sweep run for a later day (a drill, or the demo) declares a case overdue before the calendar gets
        # there: count from the later of today and the day the sweep said it was overdue.
        as_of = max(today, declared.get(state.case_id, today))
        working, calendar_days = days_late(due, as_of, calendar)
        rows.append(OverdueCase(
            case_id=state.case_id, nip=state.nip, election_code=state.election_code, agency_code=state.agency_code,
            province=state.province, due_date=due, working_days_late=working, calendar_days_late=calendar_days,
            recommendation_number=state.recommendation_number, recommended_level=state.recommended_level,
            warned=state.warned, blocked=state.blocked,
        ))
    return rows


async def overdue_declared_on(session: AsyncSession, case_ids: list[str]) -> dict[str, dt.date]:
    if not case_ids:
        return {}
    query = select(LoggedEvent.subject, LoggedEvent.envelope).where(
        LoggedEvent.event_type == OVERDUE, LoggedEvent.subject.in_(case_ids)
    )
    declared: dict[str, dt.date] = {}
    for subject, envelope in (await session.execute(query)).all():
        day = dt.date.fromisoformat(orjson.loads(envelope)["data"]["overdue_on"])
        declared[subject] = max(day, declared.get(subject, day))
    return declared


async def blocked_now(session: AsyncSession, filters: Filters, *, limit: int = 100) -> list[BlockedRow]:
    """Active personnel-data blocks; the election and province filters apply through the block's case."""
    query = (
        select(PersonnelBlock)
        .where(PersonnelBlock.lifted_at.is_(None))
        .order_by(PersonnelBlock.blocked_at.desc(), PersonnelBlock.block_id)
        .limit(limit)
    )
    if filters.agency:
        query = query.where(PersonnelBlock.agency_code == filters.agency)
    if filters.election or filters.province:
        query = query.join(CaseRow, CaseRow.case_id == PersonnelBlock.case_id)
        query = Filters(filters.election, filters.province).apply(query)
    return [
        BlockedRow(block_id=b.block_id, nip=b.nip, case_id=b.case_id, agency_code=b.agency_code, cause=b.cause,
                   reason=b.reason, blocked_at=b.blocked_at)
        for b in (await session.scalars(query)).all()
    ]


def _line(row: CaseRow) -> CaseLine:
    state = CaseStatus.model_validate_json(row.state)
    return CaseLine(
        case_id=row.case_id, nip=row.nip, election_code=row.election_code, agency_code=row.agency_code,
        province=row.province, stage=row.stage, stage_words=STAGE_WORDS.get(state.stage, row.stage),
        report_count=len(state.report_ids), updated_at=row.updated_at,
    )


async def recent_cases(session: AsyncSession, filters: Filters, *, limit: int = 15) -> list[CaseLine]:
    query = filters.apply(select(CaseRow).order_by(CaseRow.updated_at.desc(), CaseRow.case_id).limit(limit))
    return [_line(row) for row in (await session.scalars(query)).all()]


async def cases_of_nip(session: AsyncSession, nip: str) -> tuple[list[CaseLine], list[BlockedRow]]:
    rows = (await session.scalars(select(CaseRow).where(CaseRow.nip == nip).order_by(CaseRow.updated_at.desc()))).all()
    blocks = (await session.scalars(
        select(PersonnelBlock).where(PersonnelBlock.nip == nip, PersonnelBlock.lifted_at.is_(None))
    )).all()
    return [_line(row) for row in rows], [
        BlockedRow(block_id=b.block_id, nip=b.nip, case_id=b.case_id, agency_code=b.agency_code, cause=b.cause,
                   reason=b.reason, blocked_at=b.blocked_at) for b in blocks
    ]


async def case_with_timeline(session: AsyncSession, case_id: str) -> tuple[CaseStatus, list[dict]] | None:
    row = await session.get(CaseRow, case_id)
    if row is None:
        return None
    events = (await session.scalars(
        select(LoggedEvent).where(LoggedEvent.subject == case_id).order_by(LoggedEvent.stream_seq)
    )).all()
    timeline = []
    for event in events:
        document = orjson.loads(event.envelope)
        timeline.append({
            "stream_seq": event.stream_seq, "type": event.event_type, "producer": event.producer,
            "time": event.time, "event_id": event.event_id, "hash": event.hash, "data": document.get("data", {}),
            "traceparent": document.get("traceparent"),
        })
    return CaseStatus.model_validate_json(row.state), timeline


async def stream_position(session: AsyncSession, tables, consumer: str) -> int:  # noqa: ANN001
    position = tables.consumer_position
    return int(await session.scalar(select(position.c.stream_seq).where(position.c.consumer == consumer)) or 0)


async def overview(
    session: AsyncSession, filters: Filters, *, today: dt.date, calendar: WorkingCalendar, tables, consumer: str,  # noqa: ANN001
    scoped: bool = False,
) -> Overview:
    """``scoped``: the caller sees only the agency of ``filters``, and the filter options too."""
    return Overview(
        figures=await stats.funnel(session, election=filters.election, province=filters.province,
                                   agency=filters.agency),
        options=await filter_options(session, filters.agency if scoped else None),
        overdue=await overdue_cases(session, filters, today=today, calendar=calendar),
        blocked=await blocked_now(session, filters),
        recent=await recent_cases(session, filters),
        position=await stream_position(session, tables, consumer),
    )
