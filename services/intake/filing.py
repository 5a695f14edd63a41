"""Group commit: the reports that arrive while one transaction commits are filed together in the next.

Filed one by one, a report costs a transaction of its own: a handful of statements and a commit, and on
SQLite, whose one connection a transaction holds throughout, every other request waits for all of it.
Under load those per-transaction costs, not the reports, are the work. The filer therefore takes every
report waiting and files them in one transaction, with one statement per table for the whole group.

What does not change: each request answers only once its own report is committed; a report on the same
NIP and election joins the case opened by an earlier one, in this group or before; an Idempotency-Key
used again (in this group or before) gets the first answer, or 422 with another body. A group that fails
on a race (another replica opening the same case, or filing under the same key) is simply tried again,
reading what the other wrote; a group that keeps failing is split, each report in a transaction of its
own, so that one bad report fails alone and never takes the others down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy import bindparam, insert, select, tuple_, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import reporter_identity
from services.intake.domain import open_case_key, request_fingerprint
from services.intake.models import Case, IdempotencyRecord, PublicCaseStage, Report, ReporterIdentityKey
from services.intake.reference import checks
from services.intake.reference.lookup import Routing, roster_entries, route
from services.intake.schemas import ReportAccepted, ReportIn
from shared.auth import Actor
from shared.clock import JAKARTA
from shared.db import upsert_insert
from shared.events import Envelope
from shared import receipts
from shared.events.intake import CaseOpened, ReportReceived
from shared.events.signing import signing_key_from_settings
from shared.ids import complaint_ref, new_complaint_number, new_id
from shared.observability import current_traceparent
from shared.problems import Problem
from shared.service import Runtime
from shared.status_model import CaseStatus, apply

log = structlog.get_logger("sbt.intake.filing")

# A race with another transaction (see above) makes a group fail on a unique index, or on PostgreSQL
# possibly on a deadlock; running it again then finds what the other one wrote.
_ATTEMPTS = 3
# Bounded so that one transaction stays short and its statements' parameter lists stay small.
MAX_GROUP = 256
# Groups committing at once on PostgreSQL: enough to keep the disk busy, well within the connection pool
# (which the relay, the consumer and the reads share).
_CONCURRENT_GROUPS = 4
_EXTENSION = "report_filer"

_cases = Case.__table__
_reports = Report.__table__
_idempotency = IdempotencyRecord.__table__
_stages = PublicCaseStage.__table__
_identity_keys = ReporterIdentityKey.__table__


@dataclass
class Filed:
    accepted: ReportAccepted
    replayed: bool


@dataclass
class Submission:
    """One report, with everything that needs no database worked out in the request itself."""

    report: ReportIn
    actor: Actor
    idempotency_key: str | None
    fingerprint: str
    report_id: str
    case_id: str  # the id of the case it opens, if it opens one
    complaint_number: str
    received_at: dt.datetime
    receipt: receipts.Receipt
    sealed: reporter_identity.SealedIdentity | None
    traceparent: str | None
    future: asyncio.Future = field(repr=False)

    @classmethod
    def prepare(cls, runtime: Runtime, report: ReportIn, actor: Actor, idempotency_key: str | None) -> Submission:
        # The injectable clock (SBT_CLOCK_FIXED): a drill pinned to 2020 opens its cases, and numbers its
        # complaints, in 2020.
        now = runtime.clock.now()
        report_id = new_id()
        filed = report.model_dump(mode="json")
        complaint_number = new_complaint_number(now.astimezone(JAKARTA).year)
        return cls(
            report=report,
            actor=actor,
            idempotency_key=idempotency_key,
            fingerprint=request_fingerprint(filed),
            report_id=report_id,
            case_id=new_id(),
            complaint_number=complaint_number,
            received_at=now,
            # Signed here, outside the filing transaction; it is only handed out once the report is committed.
            receipt=receipts.issue(signing_key_from_settings(runtime.settings, "intake"),
                                   complaint_number=complaint_number, received_at=now, filed=filed),
            sealed=reporter_identity.seal_identity(
                reporter_identity.keyring(runtime.settings),
                report_id,
                report.reporter.model_dump(exclude={"category"}, exclude_none=True),
            ),
            traceparent=current_traceparent(),
            future=asyncio.get_running_loop().create_future(),
        )

    @property
    def key(self) -> tuple[str, str] | None:
        return (self.actor.client_id, self.idempotency_key) if self.idempotency_key else None


Outcome = Filed | Exception


class ReportFiler:
    """Files submitted reports in groups; the filer's tasks run the transactions, requests wait for theirs.

    On PostgreSQL several groups commit at once (each on a connection of its own, so that one group's
    commit, waiting for the disk, does not hold up the next); on SQLite, whose one connection every
    transaction takes in turn, one at a time, and whatever arrives meanwhile joins the next group.
    """

    def __init__(self, runtime: Runtime, max_group: int = MAX_GROUP, concurrent_groups: int | None = None) -> None:
        self.runtime = runtime
        self.max_group = max_group
        if concurrent_groups is None:
            concurrent_groups = 1 if runtime.engine.dialect.name == "sqlite" else _CONCURRENT_GROUPS
        self.concurrent_groups = concurrent_groups
        self._waiting: list[Submission] = []
        self._wake = asyncio.Event()
        self._running = False
        self._groups: set[asyncio.Task] = set()

    async def file(self, submission: Submission) -> Filed:
        if not self._running:  # no filer task (e.g. before start-up finished): file it on its own
            await self._file_group([submission])
        else:
            self._waiting.append(submission)
            self._wake.set()
        return await submission.future

    async def run(self) -> None:
        self._running = True
        slots = asyncio.Semaphore(self.concurrent_groups)
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._waiting:
                    await slots.acquire()
                    group, self._waiting = self._waiting[: self.max_group], self._waiting[self.max_group :]
                    task = asyncio.create_task(self._group_in_slot(group, slots))
                    self._groups.add(task)
                    task.add_done_callback(self._groups.discard)
        finally:
            self._running = False
            for task in list(self._groups):
                task.cancel()
            await asyncio.gather(*self._groups, return_exceptions=True)
            for submission in self._waiting:
                _resolve(submission, _stopping())
            self._waiting = []

    async def _group_in_slot(self, group: list[Submission], slots: asyncio.Semaphore) -> None:
        try:
            await self._file_group(group)
        finally:
            slots.release()

    async def _file_group(self, group: list[Submission]) -> None:
        error: Exception | None = None
        for _attempt in range(_ATTEMPTS):
            try:
                outcomes = await self._commit(group)
            except DBAPIError as failure:  # a race, a deadlock, or a value the database refused
                error = failure
                continue
            except asyncio.CancelledError:
                for submission in group:
                    _resolve(submission, _stopping())
                raise
            except Exception as failure:  # noqa: BLE001 - answered to the requests below, never lost
                error = failure
                break
            for submission, outcome in zip(group, outcomes, strict=True):
                _resolve(submission, outcome)
            return
        if len(group) == 1:
            _resolve(group[0], error)
            return
        log.warning("report group failed; filing its reports one by one", reports=len(group), error=str(error))
        for submission in group:
            await self._file_group([submission])

    async def _commit(self, group: list[Submission]) -> list[Outcome]:
        """Files the group in one transaction; the outcomes hold once it has committed."""
        async with self.runtime.transaction() as session:
            earlier = await _earlier_answers(session, [s.key for s in group if s.key])
            outcomes: list[Outcome | None] = [None] * len(group)
            fresh: list[int] = []
            first_with_key: dict[tuple[str, str], int] = {}
            for i, submission in enumerate(group):
                key = submission.key
                if key in earlier:
                    outcomes[i] = _replay(submission, *earlier[key])
                elif key is not None and key in first_with_key:
                    continue  # answered like the first one with this key, below
                else:
                    if key is not None:
                        first_with_key[key] = i
                    fresh.append(i)
            # Reference data is law at the door: a report it refuses is answered alone, the others filed.
            references = await checks.load(session, (group[i].report for i in fresh))
            for i in fresh:
                outcomes[i] = checks.refusal(group[i].report, references, now=group[i].received_at)
            filing = [i for i in fresh if outcomes[i] is None]
            accepted = await self._write(session, [group[i] for i in filing])
            for i, answer in zip(filing, accepted, strict=True):
                outcomes[i] = Filed(answer, replayed=False)
            for i, submission in enumerate(group):
                if outcomes[i] is None:
                    first = first_with_key[submission.key]
                    outcome = outcomes[first]
                    outcomes[i] = (_replay(submission, group[first].fingerprint, outcome.accepted)
                                   if isinstance(outcome, Filed) else outcome)
        return outcomes  # type: ignore[return-value] - every slot is filled above

    async def _write(self, session: AsyncSession, group: Sequence[Submission]) -> list[ReportAccepted]:
        if not group:
            return []
        outbox = self.runtime.outbox
        entries, roster_loaded = await roster_entries(session, (s.report.nip for s in group))
        routings = [
            route(entries.get(s.report.nip), roster_loaded=roster_loaded, agency_code=s.report.agency_code,
                  province=s.report.province)
            for s in group
        ]
        cases, opened_by = await _open_cases(session, group, routings)
        reports, keys, envelopes, answers, idempotency = [], [], [], [], []
        for s, routing in zip(group, routings, strict=True):
            report = s.report
            case = cases[open_case_key(report.nip, report.election_code)]
            opened = opened_by.get(case.id) is s
            if opened:
                envelopes.append(outbox.envelope(
                    CaseOpened(
                        case_id=case.id, nip=report.nip, election_code=report.election_code,
                        agency_code=case.agency_code, province=case.province, first_report_id=s.report_id,
                        opened_at=s.received_at, nip_in_roster=routing.nip_in_roster,
                    ),
                    subject=case.id, traceparent=s.traceparent,
                ))
            row = {
                "id": s.report_id,
                "case_id": case.id,
                "complaint_ref": complaint_ref(s.complaint_number),
                "nip": report.nip,
                "agency_code": routing.agency_code or case.agency_code,
                "election_code": report.election_code,
                "violation_codes": list(report.violation_codes),
                "incident_date": report.incident_date,
                "incident_place": report.incident_place,
                "province": routing.province,
                "description": report.description,
                "evidence_urls": [str(url) for url in report.evidence_urls],
                "reporter_category": report.reporter.category,
                "reporter_identity_sealed": s.sealed.sealed if s.sealed else None,
                "submitted_by_client": s.actor.client_id,
                "submitted_by_agency": s.actor.agency,
                "received_at": s.received_at,
                "filed_sha256": s.receipt.filed_sha256,
            }
            reports.append(row)
            if s.sealed:
                keys.append({"report_id": s.report_id, "wrapped_key": s.sealed.wrapped_key})
            envelopes.append(outbox.envelope(
                ReportReceived(
                    report_id=s.report_id, case_id=case.id, nip=report.nip, agency_code=row["agency_code"],
                    election_code=report.election_code, violation_codes=row["violation_codes"],
                    incident_date=report.incident_date, incident_place=report.incident_place,
                    province=row["province"], description=report.description, evidence_urls=row["evidence_urls"],
                    reporter_category=row["reporter_category"], complaint_ref=row["complaint_ref"],
                    received_at=s.received_at, nip_in_roster=routing.nip_in_roster,
                ),
                subject=case.id, traceparent=s.traceparent,
            ))
            answer = ReportAccepted(report_id=s.report_id, case_id=case.id, complaint_number=s.complaint_number,
                                    case_opened=opened, receipt=s.receipt)
            answers.append(answer)
            if s.key is not None:
                idempotency.append({
                    "client_id": s.actor.client_id, "key": s.idempotency_key, "request_hash": s.fingerprint,
                    "status_code": 201, "response": answer.model_dump(mode="json"), "created_at": s.received_at,
                })
        await session.execute(insert(_reports), reports)
        if keys:
            await session.execute(insert(_identity_keys), keys)
        await _fold_public_stage(session, envelopes, opened=set(opened_by))
        await outbox.stage_envelopes(session, envelopes)
        if idempotency:
            await session.execute(insert(_idempotency), idempotency)
        return answers


async def _open_cases(
    session: AsyncSession, group: Sequence[Submission], routings: Sequence[Routing]
) -> tuple[dict[str, _CaseRef], dict[str, Submission]]:
    """The open case of every NIP and election in the group, by open key, opening those that have none;
    and which submission opened each new case (the first one on its NIP and election).

    One INSERT ... ON CONFLICT DO NOTHING tries to open them all; only the keys it did not insert, cases
    opened before (or at this moment by another replica, whose commit PostgreSQL waits for), are read.
    Rows go in key order, so two replicas' groups never wait on each other in a cycle.
    """
    candidates: dict[str, tuple[Submission, Routing]] = {}
    for submission, routing in zip(group, routings, strict=True):
        candidates.setdefault(open_case_key(submission.report.nip, submission.report.election_code),
                              (submission, routing))
    rows = [
        {"id": s.case_id, "nip": s.report.nip, "election_code": s.report.election_code,
         "agency_code": routing.agency_code, "province": routing.province, "open_key": key, "opened_at": s.received_at}
        for key, (s, routing) in sorted(candidates.items())
    ]
    inserted = set(
        (await session.execute(
            upsert_insert(session, _cases).on_conflict_do_nothing(index_elements=["open_key"])
            .returning(_cases.c.open_key),
            rows,
        )).scalars()
    )
    cases, opened_by = {}, {}
    for key in inserted:
        submission, routing = candidates[key]
        cases[key] = _CaseRef(submission.case_id, routing.agency_code, routing.province)
        opened_by[submission.case_id] = submission
    existing = sorted(set(candidates) - inserted)
    if existing:
        for row in await session.execute(
            select(_cases.c.open_key, _cases.c.id, _cases.c.agency_code, _cases.c.province)
            .where(_cases.c.open_key.in_(existing))
        ):
            cases[row.open_key] = _CaseRef(row.id, row.agency_code, row.province)
    return cases, opened_by


@dataclass(frozen=True)
class _CaseRef:
    id: str
    agency_code: str | None
    province: str | None


async def _earlier_answers(
    session: AsyncSession, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, ReportAccepted]]:
    """(request fingerprint, answer) already given under each (client, Idempotency-Key)."""
    if not keys:
        return {}
    rows = await session.execute(
        select(_idempotency.c.client_id, _idempotency.c.key, _idempotency.c.request_hash, _idempotency.c.response)
        .where(tuple_(_idempotency.c.client_id, _idempotency.c.key).in_(sorted(set(keys))))
    )
    return {(row.client_id, row.key): (row.request_hash, ReportAccepted.model_validate(row.response)) for row in rows}


def _replay(submission: Submission, fingerprint: str, answer: ReportAccepted) -> Outcome:
    if fingerprint != submission.fingerprint:
        return Problem.field("Idempotency-Key", "already used with a different request body")
    return Filed(answer, replayed=True)


async def _fold_public_stage(session: AsyncSession, envelopes: list[Envelope], *, opened: set[str]) -> None:
    """The public complaint check's stage of every case these events touch, folded with the shared
    ``apply`` in the filing transaction (the consumer folds the other services' events on top). A case
    opened in this transaction has no stage yet; only the others' are read (and locked)."""
    earlier = sorted({envelope.subject for envelope in envelopes} - opened)
    known = {
        row.case_id: CaseStatus.model_validate_json(row.state)
        for row in await session.execute(
            select(_stages.c.case_id, _stages.c.state).where(_stages.c.case_id.in_(earlier))
            .order_by(_stages.c.case_id).with_for_update()
        )
    } if earlier else {}
    states: dict[str, CaseStatus | None] = dict(known)
    for envelope in envelopes:
        states[envelope.subject] = apply(states.get(envelope.subject), envelope)
    new = [
        {"case_id": case_id, "stage": state.stage.value, "state": state.model_dump_json(), "last_stream_seq": 0}
        for case_id, state in states.items() if case_id not in known and state is not None
    ]
    changed = [
        {"row_id": case_id, "stage": state.stage.value, "state": state.model_dump_json()}
        for case_id, state in states.items() if case_id in known and state is not None
    ]
    if new:
        await session.execute(insert(_stages), new)
    if changed:
        await session.execute(
            update(_stages).where(_stages.c.case_id == bindparam("row_id"))
            .values(stage=bindparam("stage"), state=bindparam("state")),
            changed,
        )


def _stopping() -> Problem:
    return Problem(503, "service stopping", "try again", headers={"Retry-After": "1"})


def _resolve(submission: Submission, outcome: Outcome | None) -> None:
    if submission.future.done():  # the request went away (its client disconnected)
        return
    if isinstance(outcome, Filed):
        submission.future.set_result(outcome)
    else:
        submission.future.set_exception(outcome or RuntimeError("report not filed"))


def filer(runtime: Runtime) -> ReportFiler:
    found = runtime.extensions.get(_EXTENSION)
    if found is None:
        found = runtime.extensions[_EXTENSION] = ReportFiler(runtime)
    return found  # type: ignore[return-value]


async def run_filer(runtime: Runtime) -> None:
    """Intake's background work: the filer's transactions, for as long as the service runs."""
    # The master key is read (in development, made) once at start-up rather than by the first report.
    reporter_identity.keyring(runtime.settings)
    await filer(runtime).run()
