"""``sbt import history``: an agency's past cases brought into the shared log, each stage by the service
that owns it and signed by that service's key.

Each stage is written into its owner's database, its state and its events in one transaction, as that
service writes its own (the outbox), and the running service's relay publishes them: intake the report
and the case, recommendation the verification, examination and recommendation, sanction the PPK's decree,
blocking the block and its lift. The events are the live ones, marked ``imported`` (with who and the file
and line), dated with the spreadsheet's dates. The stages go in that order, each once its predecessor's
events are on the stream, so the status service folds a case's stages in the order they happened.

Ids are derived from the NIP and the election (services/cli/history_rows.py): a second run of the same
file, or of a corrected one, finds its cases already there and writes nothing twice. Every row is checked
first; if one is refused, nothing is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.cli.history_rows import (
    HistoryRow, Refusal, Sheet, complaint_number, label, moment, short_hash, stable_id,
)
from services.cli.language import _
from shared.db import create_engine, sessionmaker
from shared.events import EVENT_MODELS, Envelope
from shared.events.base import ImportableEventData
from shared.events.blocking import PersonnelBlocked, PersonnelUnblocked
from shared.events.intake import CaseOpened, ReportReceived
from shared.events.recommendation import CaseExamined, RecommendationIssued, VerificationDecided
from shared.events.sanction import FollowupRecorded
from shared.events.envelope import utc_now_text
from shared.ids import complaint_ref
from shared.messaging.outbox import Outbox
from services.cli.settings import SystemSettings

STAGES = ("intake", "recommendation", "sanction", "blocking")


@dataclass(frozen=True)
class References:
    agencies: dict[str, tuple[str, str | None]]  # code -> (name, province)
    elections: dict[str, tuple[dt.date | None, dt.date | None]]  # code -> oversight period
    violations: dict[str, tuple[str, str, str]]  # code -> (category, default sanction, legal basis)
    open_cases: dict[str, str]  # "<nip>:<election>" -> intake's case id


@dataclass
class Planned:
    """One service's share of the import: its events and the writes of its own state."""

    service: str
    envelopes: list[Envelope] = field(default_factory=list)
    rows: list[HistoryRow] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: int
    staged: dict[str, int] = field(default_factory=dict)
    already: dict[str, int] = field(default_factory=dict)


class ImportRefused(Exception):
    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__(f"{len(refusals)} row(s) refused")
        self.refusals = refusals


class NotPublished(Exception):
    """A service's relay did not publish the import's events in time (the service is not running)."""


# --- reference data --------------------------------------------------------------------------------------


async def load_references(intake_url: str, keys: Sequence[str]) -> References:
    from services.intake.models import Case
    from services.intake.reference.models import Agency, Election, Violation

    engine = create_engine(intake_url)
    try:
        async with sessionmaker(engine)() as session:
            agencies = {a.code: (a.name, a.province) for a in (await session.scalars(select(Agency))).all()}
            elections = {e.code: (e.oversight_from, e.oversight_until)
                         for e in (await session.scalars(select(Election))).all()}
            violations = {v.code: (v.category, v.default_sanction, v.legal_basis)
                          for v in (await session.scalars(select(Violation))).all()}
            open_cases: dict[str, str] = {}
            keys = list(keys)
            for start in range(0, len(keys), 500):
                found = await session.execute(select(Case.open_key, Case.id).where(Case.open_key.in_(keys[start:start + 500])))
                open_cases.update({key: case_id for key, case_id in found.all() if key})
    finally:
        await engine.dispose()
    return References(agencies, elections, violations, open_cases)


def check_references(sheet: Sheet, references: References, today: dt.date) -> list[Refusal]:
    """What only intake's reference data can tell: the codes exist, the dates are in the election's
    oversight period and not in the future, and no live case of the same civil servant and election."""
    refusals: list[Refusal] = []
    for row in sheet.rows:
        reason = _reference_problem(row, references, today)
        if reason:
            refusals.append(Refusal(row.line, reason))
    return refusals


def _reference_problem(row: HistoryRow, references: References, today: dt.date) -> str | None:
    if row.agency not in references.agencies:
        return _("agency: unknown agency code {row_agency}").format(row_agency=row.agency)
    if row.election not in references.elections:
        return _("election: unknown election code {row_election}").format(row_election=row.election)
    for code in row.violations:
        if code not in references.violations:
            return _("violation: unknown violation code {code}").format(code=code)
    for name in ("report_date", "recommendation_date", "decree_date", "block_date", "unblock_date"):
        day = getattr(row, name)
        if day is not None and day > today:
            return _("{name}: {day} is in the future").format(name=label(name), day=day)
    start, end = references.elections[row.election]
    if (start and row.report_date < start) or (end and row.report_date > end):
        return _("report_date: {row_report_date} is outside {row_election}'s oversight period ({start} to {end})").format(row_report_date=row.report_date, row_election=row.election, start=start, end=end)
    existing = references.open_cases.get(row.key)
    if existing is not None and existing != case_id_of(row):
        return _("nip: a case of this civil servant in {row_election} is in SBT already (case {existing}), not imported").format(row_election=row.election, existing=existing)
    return None


# --- what the live services hold ------------------------------------------------------------------------


def _imported(client: str | None) -> bool:
    return (client or "").startswith("import:")


def _day(moment_: dt.datetime | None) -> str:
    return moment_.date().isoformat() if moment_ is not None else "?"


async def check_live(urls: dict[str, str], rows: Sequence[HistoryRow]) -> list[Refusal]:
    """A row refused when a stage it carries was decided live in SBT for its case (through the API, after an
    earlier run): the live verification, examination or recommendation, the PPK's decree, a block. The
    import adds what is missing and never writes its stage over one a service holds from its own door."""
    from services.cli.language import _

    by_case = {case_id_of(row): row for row in rows}
    ids = list(by_case)
    refusals: dict[int, str] = {}

    def refuse(row: HistoryRow, reason: str) -> None:
        refusals.setdefault(row.line, reason)

    async def each(url: str, model: Any, column: Any) -> list[Any]:
        engine = create_engine(url)
        try:
            async with sessionmaker(engine)() as session:
                found: list[Any] = []
                for start in range(0, len(ids), 500):
                    found.extend((await session.scalars(select(model).where(column.in_(ids[start:start + 500])))).all())
                return found
        finally:
            await engine.dispose()

    from services.blocking.models import Block
    from services.recommendation.models import Case as Examined
    from services.sanction.models import Followup

    for case in await each(urls["recommendation"], Examined, Examined.case_id):
        row = by_case[case.case_id]
        decided = row.recommendation_date is not None or row.decided_on is not None
        if not decided:
            continue
        if case.recommendation_number and not _imported(case.examined_by_client):
            refuse(row, _("recommendation_date: recommendation {number} was already issued through SBT on {day}")
                   .format(number=case.recommendation_number, day=_day(case.examined_at)))
        elif case.examination_outcome and not _imported(case.examined_by_client):
            refuse(row, _("outcome: the case was already examined through SBT on {day}")
                   .format(day=_day(case.examined_at)))
        elif case.verification_outcome and not _imported(case.verified_by_client):
            refuse(row, _("outcome: the case was already verified through SBT on {day}")
                   .format(day=_day(case.verified_at)))
    for followup in await each(urls["sanction"], Followup, Followup.case_id):
        row = by_case[followup.case_id]
        if row.decree_date is not None and followup.recorded_at is not None \
                and not _imported(followup.recorded_by_client):
            refuse(row, _("decree_date: decree {number} was already recorded through SBT on {day}")
                   .format(number=followup.decree_number, day=_day(followup.recorded_at)))
    for block in await each(urls["blocking"], Block, Block.case_id):
        row = by_case[block.case_id]
        if row.block_date is not None and not _imported(block.blocked_by):
            refuse(row, _("block_date: the personnel data was already blocked through SBT on {day}")
                   .format(day=_day(block.blocked_at)))
    return [Refusal(line, reason) for line, reason in sorted(refusals.items())]


# --- the plan: each service's events ---------------------------------------------------------------------


def case_id_of(row: HistoryRow) -> str:
    return stable_id("case", row.key, row.report_date)


def recommendation_number_of(row: HistoryRow) -> str:
    return f"REK-IMPOR-{short_hash(row.key)}"


def decree_number_of(row: HistoryRow) -> str:
    return row.decree_number or f"SK-IMPOR-{short_hash(row.key)}"


def block_id_of(row: HistoryRow) -> str:
    return stable_id("block", row.key, row.report_date)


def examining_authority_on(day: dt.date) -> str:
    """Who examined on that day: KASN until 23 Aug 2024, BKN since (the recommendation service's roles)."""
    from services.recommendation.roles import from_settings
    from services.cli.settings import get_settings

    holder = from_settings(get_settings()).examining_authority(day)
    return holder.agency if holder is not None else "BKN"


class Planner:
    def __init__(self, references: References, *, by: str, source_name: str) -> None:
        self.references = references
        self.by = by
        self.source_name = source_name

    def _mark(self, row: HistoryRow) -> dict[str, Any]:
        return {"imported": True, "imported_by": self.by, "source": f"{self.source_name}:{row.line}"}

    def _envelope(self, data: ImportableEventData, *, kind: str, row: HistoryRow, day: dt.date) -> Envelope:
        return Envelope(
            # Named by the case and the stage, not the stage's date: a corrected date in a later run of the
            # books finds its stage there already and leaves it (reconcile then shows the difference).
            id=stable_id(kind, row.key, row.report_date), source=f"/sbt/{data.producer}", type=data.event_type,
            time=utc_now_text(moment(day)), subject=case_id_of(row), data=data.model_dump(mode="json"),
        )

    def plan(self, rows: Sequence[HistoryRow]) -> dict[str, Planned]:
        plans = {service: Planned(service) for service in STAGES}
        for row in rows:
            for service, envelopes in self.events_of(row).items():
                if envelopes:
                    plans[service].envelopes.extend(envelopes)
                    plans[service].rows.append(row)
        return plans

    def events_of(self, row: HistoryRow) -> dict[str, list[Envelope]]:
        mark, case_id = self._mark(row), case_id_of(row)
        agency_name, province = self.references.agencies[row.agency]
        reported = moment(row.report_date)
        report_id = stable_id("report", row.key, row.report_date)
        intake = [
            self._envelope(CaseOpened(case_id=case_id, nip=row.nip, election_code=row.election, agency_code=row.agency,
                                      province=province, first_report_id=report_id, opened_at=reported, **mark),
                           kind="case.opened", row=row, day=row.report_date),
            self._envelope(ReportReceived(
                report_id=report_id, case_id=case_id, nip=row.nip, agency_code=row.agency, election_code=row.election,
                violation_codes=list(row.violations), incident_date=row.report_date, incident_place=agency_name,
                province=province, description=f"Riwayat kasus {row.agency} diimpor ({self.source_name} baris {row.line}).",
                reporter_category="bawaslu", complaint_ref=complaint_ref(complaint_number(row)), received_at=reported,
                **mark), kind="report.received", row=row, day=row.report_date),
        ]
        events: dict[str, list[Envelope]] = {"intake": intake, "recommendation": [], "sanction": [], "blocking": []}
        if row.recommendation_date is None:
            events["recommendation"] = self._unrecommended(row)
            return events
        category, level, legal_basis = self.references.violations[row.violations[0]]
        day, at = row.recommendation_date, moment(row.recommendation_date)
        authority = examining_authority_on(day)
        events["recommendation"] = [
            self._envelope(VerificationDecided(case_id=case_id, nip=row.nip, outcome="accepted",
                                               reason="Diverifikasi (riwayat diimpor).", decided_by_agency="BAWASLU",
                                               decided_at=at, **mark), kind="verification", row=row, day=day),
            self._envelope(CaseExamined(case_id=case_id, nip=row.nip, outcome="proven", category=category,
                                        sanction_level=level, violation_codes=list(row.violations),
                                        legal_basis=legal_basis, reason="Terbukti (riwayat diimpor).",
                                        examining_authority=authority, examined_at=at, **mark),
                           kind="examination", row=row, day=day),
            self._envelope(RecommendationIssued(case_id=case_id, recommendation_number=recommendation_number_of(row),
                                                nip=row.nip, agency_code=row.agency, category=category,
                                                sanction_level=level, legal_basis=legal_basis,
                                                examining_authority=authority, issued_at=at, **mark),
                           kind="recommendation", row=row, day=day),
        ]
        if row.decree_date is not None:
            events["sanction"] = [self._envelope(FollowupRecorded(
                case_id=case_id, nip=row.nip, agency_code=row.agency, decree_number=decree_number_of(row),
                decree_date=row.decree_date, sanction_level=level, recommended_level=level,
                lighter_than_recommended=False, effective_from=row.decree_date, late=row.block_date is not None,
                recorded_by_agency=row.agency, recorded_at=moment(row.decree_date), **mark),
                kind="followup", row=row, day=row.decree_date)]
        if row.block_date is not None:
            block_id = block_id_of(row)
            blocking = [self._envelope(PersonnelBlocked(
                block_id=block_id, nip=row.nip, case_id=case_id, agency_code=row.agency, cause="overdue",
                reason=f"Diblokir {row.block_date} (riwayat diimpor).", blocked_at=moment(row.block_date), **mark),
                kind="blocked", row=row, day=row.block_date)]
            lift = row.lift_date
            if lift is not None:
                blocking.append(self._envelope(PersonnelUnblocked(
                    block_id=block_id, nip=row.nip, case_id=case_id,
                    cause="followup" if row.lifted_after_followup else "manual",
                    reason=f"Dibuka {lift} (riwayat diimpor).", unblocked_at=moment(lift), **mark),
                    kind="unblocked", row=row, day=lift))
            events["blocking"] = blocking
        return events


    def _unrecommended(self, row: HistoryRow) -> list[Envelope]:
        """A case the books closed without a recommendation: rejected at verification, or verified and
        examined not proven (no clarification: that rule is for proven findings), on its decision date. A
        case in progress has no event: it waits in the live worklists as a new report does."""
        day = row.decided_on
        if day is None:
            return []
        mark, case_id, at = self._mark(row), case_id_of(row), moment(day)
        rejected = row.outcome == "rejected"
        reason = "Ditolak (riwayat diimpor)." if rejected else "Diverifikasi (riwayat diimpor)."
        events = [self._envelope(VerificationDecided(case_id=case_id, nip=row.nip,
                                                     outcome="rejected" if rejected else "accepted", reason=reason,
                                                     decided_by_agency="BAWASLU", decided_at=at, **mark),
                                 kind="verification", row=row, day=day)]
        if row.outcome == "not_proven":
            events.append(self._envelope(CaseExamined(
                case_id=case_id, nip=row.nip, outcome="not_proven", violation_codes=list(row.violations),
                reason="Tidak terbukti (riwayat diimpor).", examining_authority=examining_authority_on(day),
                examined_at=at, **mark), kind="examination", row=row, day=day))
        return events


# --- writing each service's share ------------------------------------------------------------------------


async def _already_staged(session: AsyncSession, outbox_table: Any, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        result = await session.execute(select(outbox_table.c.event_id).where(outbox_table.c.event_id.in_(ids[start:start + 500])))
        found.update(result.scalars().all())
    return found


def _state_writer(service: str) -> Callable[..., Any]:
    return {"intake": _write_intake, "recommendation": _write_recommendation, "sanction": _write_sanction,
            "blocking": _write_blocking}[service]


async def write_stage(url: str, plan: Planned, *, by: str, settings: SystemSettings, clock_now: dt.datetime,
                      references: References) -> tuple[int, list[str]]:
    """Writes what of ``plan`` is not there yet, in one transaction; (events staged, every event id)."""
    import importlib

    models = importlib.import_module(f"services.{plan.service}.models")
    tables = models.messaging
    ids = [envelope.id for envelope in plan.envelopes]
    engine = create_engine(url)
    try:
        for attempt in range(5):
            try:
                async with sessionmaker(engine).begin() as session:
                    done = await _already_staged(session, tables.outbox, ids)
                    fresh = [envelope for envelope in plan.envelopes if envelope.id not in done]
                    fresh_cases = {envelope.subject for envelope in fresh}
                    rows = [row for row in plan.rows if case_id_of(row) in fresh_cases]
                    kept_out = await _state_writer(plan.service)(session, models, rows, by=by, settings=settings,
                                                                 now=clock_now, references=references)
                    fresh = [envelope for envelope in fresh if envelope.subject not in (kept_out or set())]
                    await session.flush()
                    await Outbox(tables, plan.service).stage_envelopes(session, fresh)
                return len(fresh), ids
            except IntegrityError:
                # The service's own consumer wrote the same case meanwhile (its projection of intake's
                # events): the next attempt finds that row and completes it.
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
    finally:
        with contextlib.suppress(Exception):
            await engine.dispose()
    return 0, ids


async def _write_intake(session: AsyncSession, models: Any, rows: list[HistoryRow], *, by: str, now: dt.datetime,
                        **_: Any) -> None:
    agencies = await _agency_provinces(session)
    for row in rows:
        case_id, reported = case_id_of(row), moment(row.report_date)
        province = agencies.get(row.agency)
        session.add(models.Case(id=case_id, nip=row.nip, election_code=row.election, agency_code=row.agency,
                                province=province, open_key=row.key, opened_at=reported))
        session.add(models.Report(
            id=stable_id("report", row.key, row.report_date), case_id=case_id,
            complaint_ref=complaint_ref(complaint_number(row)), nip=row.nip, agency_code=row.agency,
            election_code=row.election, violation_codes=list(row.violations), incident_date=row.report_date,
            incident_place=row.agency, province=province, description="Riwayat kasus diimpor.", evidence_urls=[],
            reporter_category="bawaslu", submitted_by_client=f"import:{by}"[:100], submitted_by_agency=row.agency,
            received_at=reported,
        ))


async def _agency_provinces(session: AsyncSession) -> dict[str, str | None]:
    from services.intake.reference.models import Agency

    return {code: province for code, province in (await session.execute(select(Agency.code, Agency.province))).all()}


async def _write_recommendation(session: AsyncSession, models: Any, rows: list[HistoryRow], *, by: str,
                                now: dt.datetime, **_: Any) -> None:
    catalogue = {v.code: v for v in (await session.scalars(select(models.Violation))).all()}
    for row in rows:
        decided = row.recommendation_date or row.decided_on
        assert decided is not None
        at = moment(decided)
        case = await session.get(models.Case, case_id_of(row))
        if case is None:  # before the service's consumer saw intake's events: the consumer completes it
            case = models.Case(case_id=case_id_of(row), nip=row.nip, election_code=row.election,
                               agency_code=row.agency, province=None, violation_codes=list(row.violations),
                               report_count=0, opened_at=moment(row.report_date),
                               verification_due=row.report_date)
            session.add(case)
        case.verification_outcome = "rejected" if row.outcome == "rejected" else "accepted"
        case.verification_reason = "Riwayat diimpor."
        case.verified_by_agency, case.verified_by_client, case.verified_at = "BAWASLU", f"import:{by}"[:100], at
        case.updated_at = now
        if row.outcome in ("rejected", "not_proven"):
            # Closed in the books: out of the verifiers' and examiners' worklists (they list by stage).
            case.stage = row.outcome
            if row.outcome == "not_proven":
                case.examination_outcome, case.examination_reason = "not_proven", "Riwayat diimpor."
                case.examining_authority, case.examined_by_client, case.examined_at = (
                    examining_authority_on(decided), f"import:{by}"[:100], at)
            continue
        assert row.recommendation_date is not None
        entry = catalogue.get(row.violations[0])
        case.stage = "recommended"
        case.examination_outcome, case.examination_reason = "proven", "Riwayat diimpor."
        case.examining_authority, case.examined_by_client, case.examined_at = (
            examining_authority_on(row.recommendation_date), f"import:{by}"[:100], at)
        if entry is not None:
            case.category, case.sanction_level, case.legal_basis = entry.category, entry.default_sanction, entry.legal_basis
        case.recommendation_number = recommendation_number_of(row)
        case.updated_at = now


async def _write_sanction(session: AsyncSession, models: Any, rows: list[HistoryRow], *, by: str, now: dt.datetime,
                          settings: SystemSettings, references: References, **_: Any) -> set[str]:
    """Every recommended case's obligation with its original dates. None has a running deadline: the sweep
    reads pending ones only, and an imported one is done (decree) or overdue (none in the books)."""
    from services.sanction import domain
    from shared.calendar import WorkingCalendar

    calendar = WorkingCalendar(settings.extra_days_off)
    days = settings.followup_working_days
    kept_out: set[str] = set()
    for row in rows:
        assert row.recommendation_date is not None
        due = domain.due_date(row.recommendation_date, days, calendar)
        category, level, _basis = references.violations[row.violations[0]]
        followup = await session.get(models.Followup, case_id_of(row))
        if followup is None:
            followup = models.Followup(
                case_id=case_id_of(row), nip=row.nip, agency_code=row.agency,
                recommendation_number=recommendation_number_of(row), category=category, recommended_level=level,
                issued_on=row.recommendation_date, working_days=days, due_date=due, lighter_than_recommended=False,
                late=False, created_at=now,
            )
            session.add(followup)
        elif followup.state == domain.State.DONE.value:
            kept_out.add(followup.case_id)  # the PPK's decree is recorded already (live, or an earlier run)
            continue
        followup.updated_at = now
        if row.decree_date is not None:
            followup.state = domain.State.DONE.value
            followup.decree_number, followup.decree_date = decree_number_of(row), row.decree_date
            followup.effective_from, followup.late = row.decree_date, row.block_date is not None
            followup.sanction_level = level
            followup.recorded_by_agency, followup.recorded_by_client = row.agency, f"import:{by}"[:100]
            followup.recorded_at = moment(row.decree_date)
        else:
            followup.state = domain.State.OVERDUE.value
            followup.overdue_on = calendar.add_working_days(due, 1)
    return kept_out


async def _write_blocking(session: AsyncSession, models: Any, rows: list[HistoryRow], *, by: str,
                          **_: Any) -> set[str]:
    kept_out: set[str] = set()
    for row in rows:
        assert row.block_date is not None
        lift = row.lift_date
        block = await session.get(models.Block, block_id_of(row))
        if block is None:  # else imported before, and now (a corrected file) with its lift
            block = models.Block(
                block_id=block_id_of(row), nip=row.nip, case_id=case_id_of(row), agency_code=row.agency,
                cause="overdue", reason=f"Diblokir {row.block_date} (riwayat diimpor).",
                blocked_at=moment(row.block_date), blocked_by=f"import:{by}"[:100],
            )
            session.add(block)
        elif block.lifted_at is not None:
            # Lifted already: by an earlier run, or by blocking itself when the imported decree reached it.
            kept_out.add(block.case_id)
            continue
        if block.lifted_at is None:
            block.active_key = None if lift else f"case:{case_id_of(row)}"
            block.lifted_at = moment(lift) if lift else None
            block.lift_cause = ("followup" if row.lifted_after_followup else "manual") if lift else None
            block.lift_reason = f"Dibuka {lift} (riwayat diimpor)." if lift else None
            block.lifted_by = f"import:{by}"[:100] if lift else None
    return kept_out


async def wait_published(url: str, service: str, ids: list[str], *, timeout: float,
                         progress: Callable[[int], None] | None = None) -> None:
    """Until the service's relay has published every one of ``ids`` (so the next stage follows them)."""
    import importlib

    from sqlalchemy import func

    outbox = importlib.import_module(f"services.{service}.models").messaging.outbox
    engine = create_engine(url)
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            unsent = 0
            async with engine.connect() as connection:
                for start in range(0, len(ids), 500):
                    unsent += (await connection.execute(
                        select(func.count()).select_from(outbox)
                        .where(outbox.c.event_id.in_(ids[start:start + 500]), outbox.c.sent_at.is_(None))
                    )).scalar_one()
            if progress is not None:
                progress(len(ids) - unsent)
            if unsent == 0:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise NotPublished(
                    f"the {service} service has not published {unsent:,} imported event(s) within {timeout:.0f} s: "
                    "is it running? Run the same import again once it is (nothing is written twice)")
            await asyncio.sleep(0.2)
    finally:
        with contextlib.suppress(Exception):
            await engine.dispose()


__all__ = ["EVENT_MODELS", "ImportRefused", "ImportReport", "NotPublished", "Planner", "STAGES", "check_live",
           "check_references",
           "load_references", "wait_published", "write_stage"]
