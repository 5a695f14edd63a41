"""What the dashboard shows, read from the status service's own read model only (case rows, the event log
it received, the personnel blocks it projected). The funnel itself is ``services.status.stats.funnel``, the
very function behind ``GET /v1/stats``, so the page and the API cannot disagree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import Select, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.status import stats
from services.status.dashboard import sorting
from services.status.models import CaseRow, LoggedEvent, PersonnelBlock
from shared.calendar import WorkingCalendar
from shared.i18n import N_
from shared.status_model import CaseStatus, Stage

OVERDUE = "sbt.followup.overdue.v1"
# Rows per page of each list; every list says its total and links its pages, none is cut silently.
PAGE_SIZE = 25

# The funnel as the dashboard draws it, in order, with the words people use (msgids, translated when shown).
FUNNEL_STEPS: tuple[tuple[str, str], ...] = (
    ("reported", N_("Reported")),
    ("verified", N_("Verified")),
    ("proven", N_("Proven")),
    ("recommended", N_("Recommended")),
    ("followed_up", N_("Followed up")),
)
SIDE_FIGURES: tuple[tuple[str, str], ...] = (
    ("awaiting_ppk", N_("Awaiting PPK")),
    ("overdue", N_("Overdue")),
    ("ever_blocked", N_("Ever blocked")),
    ("blocked", N_("Blocked now")),
    ("unblocked_after_followup", N_("Unblocked after a follow-up")),
    ("unblocked_by_hand", N_("Unblocked by hand")),
    ("block_declined", N_("Not blocked, with a reason")),
    ("not_proven", N_("Not proven")),
    ("rejected", N_("Rejected")),
    ("cancelled", N_("Cancelled")),
    ("out_of_service", N_("Out of service")),
)

STAGE_WORDS = {
    Stage.ALLEGED: N_("alleged"),
    Stage.AWAITING_VERIFICATION: N_("awaiting verification"),
    Stage.AWAITING_EXAMINATION: N_("awaiting examination"),
    Stage.AWAITING_PPK: N_("awaiting PPK"),
    Stage.SANCTIONED: N_("sanctioned"),
    Stage.NOT_PROVEN: N_("not proven"),
    Stage.CANCELLED: N_("cancelled"),
    Stage.REJECTED: N_("rejected"),
    Stage.OUT_OF_SERVICE: N_("already out of service"),
}


@dataclass(frozen=True)
class Filters:
    election: str | None = None
    province: str | None = None
    agency: str | None = None
    # Only the lists (overdue, latest cases, work queues) are filtered by stage and by being overdue: the
    # funnel is the whole of each stage.
    stage: str | None = None
    overdue: bool = False
    # The agencies the caller may see (shared.authz.scope_of), None for every agency: from the caller's
    # token, never from the query string.
    within: frozenset[str] | None = None

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in (("election", self.election), ("province", self.province),
                                  ("agency", self.agency), ("stage", self.stage),
                                  ("overdue", "1" if self.overdue else None)) if v}

    def live_url(self, pages: "Pages | None" = None) -> str:
        """The overview's live part with these filters (what the page's script fetches on each change)."""
        return "/dashboard?" + urlencode({**self.as_query(), **(pages or Pages()).as_query(), "part": "live"})

    def page_url(self, pages: "Pages", key: str, number: int) -> str:
        """The overview with these filters, the other lists on their pages and list ``key`` on page ``number``."""
        return "/dashboard?" + urlencode({**self.as_query(), **pages.as_query(), key: number})

    def sort_link(self, pages: "Pages", name: str, key: str) -> str:
        """What a click on column ``key`` of list ``name`` opens: sorted by it, or the other way round."""
        return self.sort_url(pages, name, pages.sort(name).toggled(key).param)

    def sort_url(self, pages: "Pages", name: str, sort: str) -> str:
        """The overview with list ``name`` sorted by ``sort``, from its first page; the others as they are."""
        query = {**self.as_query(), **pages.as_query(), f"{name}_sort": sort}
        query.pop(f"{name}_page", None)
        return "/dashboard?" + urlencode(query)

    def apply(self, query: Select) -> Select:
        if self.election:
            query = query.where(CaseRow.election_code == self.election)
        if self.province:
            query = query.where(CaseRow.province == self.province)
        if self.agency:
            query = query.where(CaseRow.agency_code == self.agency)
        if self.within is not None:
            query = query.where(CaseRow.agency_code.in_(sorted(self.within)))
        if self.stage:
            query = query.where(CaseRow.stage == self.stage)
        if self.overdue:
            query = query.where(CaseRow.overdue.is_(True))
        return query


@dataclass(frozen=True)
class Pages:
    """Which page of each overview list is shown (1-based), kept in the query string."""

    overdue: int = 1
    blocked: int = 1
    recent: int = 1
    # How each list is sorted (a key of its whitelist below, "-" first for descending); empty: its default.
    overdue_sort: str = ""
    blocked_sort: str = ""
    recent_sort: str = ""

    def as_query(self) -> dict[str, int | str]:
        pages = {f"{name}_page": value for name, value in (("overdue", self.overdue), ("blocked", self.blocked),
                                                            ("recent", self.recent)) if value > 1}
        sorts = {f"{name}_sort": value for name, value in (("overdue", self.overdue_sort),
                                                            ("blocked", self.blocked_sort),
                                                            ("recent", self.recent_sort)) if value}
        return {**pages, **sorts}

    def sort(self, name: str) -> sorting.Sort:
        allowed, default = LIST_SORTS[name]
        return sorting.parse(getattr(self, f"{name}_sort"), allowed, default)


# The keys each list may be sorted by (the column headers' links), and its default order.
CASE_SORTS = {"case": CaseRow.case_id, "nip": CaseRow.nip, "election": CaseRow.election_code,
              "agency": CaseRow.agency_code, "province": CaseRow.province, "stage": CaseRow.stage,
              "due": CaseRow.due_date, "updated": CaseRow.updated_at}
OVERDUE_SORTS = {key: CASE_SORTS[key] for key in ("case", "nip", "agency", "province", "due")}
BLOCK_SORTS = {"nip": PersonnelBlock.nip, "agency": PersonnelBlock.agency_code, "cause": PersonnelBlock.cause,
               "since": PersonnelBlock.blocked_at}
LIST_SORTS = {"overdue": (OVERDUE_SORTS, "due"), "blocked": (BLOCK_SORTS, "-since"),
              "recent": (CASE_SORTS, "-updated")}


@dataclass
class Listing:
    """One page of a list, with the total it is a page of."""

    rows: list
    total: int
    page: int = 1
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):  # noqa: ANN204
        return iter(self.rows)

    def __bool__(self) -> bool:
        return bool(self.rows)


def _offset(page: int, size: int) -> int:
    return (max(page, 1) - 1) * size


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
    overdue: Listing = field(default_factory=lambda: Listing([], 0))
    blocked: Listing = field(default_factory=lambda: Listing([], 0))
    recent: Listing = field(default_factory=lambda: Listing([], 0))
    position: int = 0
    # The one day every "late" figure on the page counts to.
    as_of: dt.date | None = None


def days_late(due: dt.date | None, today: dt.date, calendar: WorkingCalendar) -> tuple[int, int]:
    """(working days, calendar days) past the due date; 0 on the due day and before it."""
    if due is None or due >= today:
        return 0, 0
    return max(-calendar.working_days_between(today, due), 0), (today - due).days


async def filter_options(session: AsyncSession, within: frozenset[str] | None = None) -> dict[str, list[str]]:
    """The values to filter by; of the cases of ``within`` only, for a caller who sees only those agencies."""
    options = {}
    for name, column in (("election", CaseRow.election_code), ("province", CaseRow.province),
                         ("agency", CaseRow.agency_code), ("stage", CaseRow.stage)):
        query = Filters(within=within).apply(select(distinct(column)).where(column.is_not(None)))
        values = (await session.scalars(query)).all()
        options[name] = sorted(values)
    return options


async def as_of_day(session: AsyncSession, today: dt.date) -> dt.date:
    """The day the page counts lateness to: today, or the day of the latest overdue sweep when that ran for a
    later day (a drill, or the demo declares cases overdue before the calendar gets there). One day for the
    whole page, so that "as of" and every "N days late" beside it agree."""
    latest = await session.scalar(
        select(LoggedEvent.envelope).where(LoggedEvent.event_type == OVERDUE)
        .order_by(LoggedEvent.stream_seq.desc()).limit(1)
    )
    if latest is None:
        return today
    return max(today, dt.date.fromisoformat(orjson.loads(latest)["data"]["overdue_on"]))


async def overdue_cases(
    session: AsyncSession, filters: Filters, *, as_of: dt.date, calendar: WorkingCalendar, page: int = 1,
    size: int = PAGE_SIZE, sort: sorting.Sort | None = None,
) -> Listing:
    sort = sort or sorting.parse(None, OVERDUE_SORTS, "due")
    base = filters.apply(select(CaseRow.case_id).where(CaseRow.overdue.is_(True)))
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    query = filters.apply(
        select(CaseRow.state, CaseRow.due_date).where(CaseRow.overdue.is_(True))
        .order_by(*sorting.order_by(sort, OVERDUE_SORTS, CaseRow.case_id)).offset(_offset(page, size)).limit(size)
    )
    rows = []
    for document, due in (await session.execute(query)).all():
        state = CaseStatus.model_validate_json(document)
        working, calendar_days = days_late(due, as_of, calendar)
        rows.append(OverdueCase(
            case_id=state.case_id, nip=state.nip, election_code=state.election_code, agency_code=state.agency_code,
            province=state.province, due_date=due, working_days_late=working, calendar_days_late=calendar_days,
            recommendation_number=state.recommendation_number, recommended_level=state.recommended_level,
            warned=state.warned, blocked=state.blocked,
        ))
    return Listing(rows, total, page, size)


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


async def blocked_now(session: AsyncSession, filters: Filters, *, page: int = 1, size: int = PAGE_SIZE,
                      sort: sorting.Sort | None = None) -> Listing:
    """Active personnel-data blocks; the election and province filters apply through the block's case."""
    sort = sort or sorting.parse(None, BLOCK_SORTS, "-since")
    query = select(PersonnelBlock).where(PersonnelBlock.lifted_at.is_(None))
    if filters.agency:
        query = query.where(PersonnelBlock.agency_code == filters.agency)
    if filters.within is not None:
        query = query.where(PersonnelBlock.agency_code.in_(sorted(filters.within)))
    if filters.election or filters.province:
        query = query.join(CaseRow, CaseRow.case_id == PersonnelBlock.case_id)
        query = Filters(filters.election, filters.province).apply(query)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(*sorting.order_by(sort, BLOCK_SORTS, PersonnelBlock.block_id))
    query = query.offset(_offset(page, size)).limit(size)
    return Listing([
        BlockedRow(block_id=b.block_id, nip=b.nip, case_id=b.case_id, agency_code=b.agency_code, cause=b.cause,
                   reason=b.reason, blocked_at=b.blocked_at)
        for b in (await session.scalars(query)).all()
    ], total, page, size)


def _line(row: CaseRow) -> CaseLine:
    state = CaseStatus.model_validate_json(row.state)
    return CaseLine(
        case_id=row.case_id, nip=row.nip, election_code=row.election_code, agency_code=row.agency_code,
        province=row.province, stage=row.stage, stage_words=STAGE_WORDS.get(state.stage, row.stage),
        report_count=len(state.report_ids), updated_at=row.updated_at,
    )


async def recent_cases(session: AsyncSession, filters: Filters, *, page: int = 1, size: int = PAGE_SIZE,
                       sort: sorting.Sort | None = None) -> Listing:
    sort = sort or sorting.parse(None, CASE_SORTS, "-updated")
    total = await session.scalar(filters.apply(select(func.count()).select_from(CaseRow))) or 0
    query = filters.apply(select(CaseRow).order_by(*sorting.order_by(sort, CASE_SORTS, CaseRow.case_id)))
    rows = (await session.scalars(query.offset(_offset(page, size)).limit(size))).all()
    return Listing([_line(row) for row in rows], total, page, size)


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
    scoped: bool = False, pages: Pages | None = None,
) -> Overview:
    """``scoped``: the caller sees only the agencies of ``filters.within``, and the filter options too."""
    pages = pages or Pages()
    as_of = await as_of_day(session, today)
    return Overview(
        figures=await stats.funnel(session, election=filters.election, province=filters.province,
                                   agency=filters.agency, agencies=filters.within),
        options=await filter_options(session, filters.within if scoped else None),
        overdue=await overdue_cases(session, filters, as_of=as_of, calendar=calendar, page=pages.overdue,
                                    sort=pages.sort("overdue")),
        blocked=await blocked_now(session, filters, page=pages.blocked, sort=pages.sort("blocked")),
        recent=await recent_cases(session, filters, page=pages.recent, sort=pages.sort("recent")),
        position=await stream_position(session, tables, consumer),
        as_of=as_of,
    )


# -- the work queues: each role's cases at its step, sorted and filtered like every list ----------------

@dataclass(frozen=True)
class QueueRow:
    state: CaseStatus
    due_date: dt.date | None
    # Working days from today to the due date: 0 on the due day, negative once it has passed.
    working_days_left: int | None
    updated_at: dt.datetime
    stage_words: str


async def case_queue(
    session: AsyncSession, filters: Filters, *, sort: sorting.Sort, today: dt.date, calendar: WorkingCalendar,
    page: int = 1, size: int = PAGE_SIZE,
) -> Listing:
    """One page of the cases ``filters`` select (a queue is a stage, and for a PPK its own agency)."""
    total = await session.scalar(filters.apply(select(func.count()).select_from(CaseRow))) or 0
    query = filters.apply(select(CaseRow.state, CaseRow.due_date, CaseRow.updated_at))
    query = query.order_by(*sorting.order_by(sort, CASE_SORTS, CaseRow.case_id))
    rows = []
    counted: dict[dt.date, int] = {}
    for document, due, updated_at in (await session.execute(query.offset(_offset(page, size)).limit(size))).all():
        state = CaseStatus.model_validate_json(document)
        left = None
        if due is not None:
            if due not in counted:
                counted[due] = calendar.working_days_between(today, due)
            left = counted[due]
        rows.append(QueueRow(state=state, due_date=due, working_days_left=left, updated_at=updated_at,
                             stage_words=STAGE_WORDS.get(state.stage, state.stage.value)))
    return Listing(rows, total, page, size)


async def active_blocks_of_case(session: AsyncSession, case_id: str) -> list[BlockedRow]:
    """The case's blocks not lifted yet (what BKN's blocker may lift from the case page)."""
    blocks = (await session.scalars(
        select(PersonnelBlock).where(PersonnelBlock.case_id == case_id, PersonnelBlock.lifted_at.is_(None))
        .order_by(PersonnelBlock.blocked_at)
    )).all()
    return [BlockedRow(block_id=b.block_id, nip=b.nip, case_id=b.case_id, agency_code=b.agency_code, cause=b.cause,
                       reason=b.reason, blocked_at=b.blocked_at) for b in blocks]


async def case_version(session: AsyncSession, case_id: str) -> int:
    """The stream sequence of the last event applied to the case (0 when unknown): moves when it changes."""
    return int(await session.scalar(select(CaseRow.last_stream_seq).where(CaseRow.case_id == case_id)) or 0)
