"""The retention sweep: at the end of the periods deploy/seed/retention.json sets for a closed case's outcome,
erase its reporters' identities, remove its evidence links and, last, retire the case itself; each removal
with its event, in the transaction that removes (outbox).

When a case closed is read from intake's own fold of the case events (``public_case_stage``): the day, in
Jakarta, of the stage change that closed it. Like the deadline sweep it runs periodically (as of today) and
on demand for any day (``POST /v1/retention/sweeps``), which is how tests and drills move time; it is
idempotent, because what it removed is no longer there to remove.

Retiring a case waits for a verified archive of its election holding it (``archived_cases``, recorded by
``sbt archive`` under the archive's seal, which intake checks against the ledger's key): a case is records management's to destroy only once archived. Erasing a reporter's identity
or the evidence links does not wait: privacy first, and the archive never holds either (no event carries the
identity, and the archive is made from the events).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import archive_seal, erasure
from services.intake.models import ArchivedCase, Case, ElectionArchive, PublicCaseStage, Report, ReporterIdentityKey
from services.intake.schemas import ArchiveIn, ArchiveRecorded, RetentionItem, RetentionSweep
from shared import retention
from shared.clock import JAKARTA
from shared.events.retention import CaseRetired, EvidenceExpired, ReporterIdentityExpired
from shared.problems import Problem
from shared.service import Runtime
from shared.status_model import CLOSED_STAGES, CaseStatus, Stage

log = logging.getLogger("sbt.intake.retention")

BATCH = 200
_CLOSED = sorted(stage.value for stage in CLOSED_STAGES)


def rules_of(runtime: Runtime) -> retention.RetentionRules:
    """The rules, loaded and checked once per process (a bad file stops the service at start)."""
    found = getattr(runtime, "retention_rules", None)
    if found is None:
        found = runtime.retention_rules = retention.load(runtime.settings.retention_rules)  # type: ignore[attr-defined]
    return found


def closed_on(state: CaseStatus) -> dt.date | None:
    """The Jakarta day of the stage change that closed the case (None while it is open)."""
    if state.stage not in CLOSED_STAGES:
        return None
    closing = next((change for change in reversed(state.history) if change.stage == state.stage), None)
    moment = dt.datetime.fromisoformat(closing.at if closing else state.updated_at)
    return moment.astimezone(JAKARTA).date()


async def run(*, runtime: Runtime, as_of: dt.date) -> RetentionSweep:
    rules = rules_of(runtime)
    result = RetentionSweep(as_of=as_of, identities_erased=[], evidence_removed=[], cases_retired=[],
                            waiting_for_archive=[])
    erased_any = False
    after = ""
    while True:
        async with runtime.transaction() as session:
            rows = (await session.scalars(
                select(PublicCaseStage).where(PublicCaseStage.stage.in_(_CLOSED), PublicCaseStage.case_id > after)
                .order_by(PublicCaseStage.case_id).limit(BATCH).with_for_update()
            )).all()
            for row in rows:
                erased_any |= await _sweep_case(session, runtime, rules, row, as_of, result)
            xid = await erasure.erasing_transaction(session) if erased_any else None
        if len(rows) < BATCH:
            break
        after = rows[-1].case_id
    if erased_any:
        await erasure.scrub(runtime.engine, xid)
    return result


async def _sweep_case(session: AsyncSession, runtime: Runtime, rules: retention.RetentionRules,
                      row: PublicCaseStage, as_of: dt.date, result: RetentionSweep) -> bool:
    state = CaseStatus.model_validate_json(row.state)
    closed = closed_on(state)
    if closed is None:
        return False
    rule = rules.rule(state.stage)
    due = rules.due(state.stage, closed, as_of)
    if not due:
        return False
    reports = (await session.scalars(select(Report).where(Report.case_id == row.case_id)
                                     .order_by(Report.id).with_for_update())).all()
    now = runtime.clock.now()
    erased = False
    common = {"case_id": row.case_id, "election_code": state.election_code, "outcome": state.stage.value,
              "closed_on": closed}
    if retention.Part.REPORTER_IDENTITY in due:
        for report in reports:
            if report.reporter_identity_erased_at is not None:
                continue
            await session.execute(delete(ReporterIdentityKey).where(ReporterIdentityKey.report_id == report.id))
            report.reporter_identity_sealed = None
            report.reporter_identity_erased_at = now
            envelope = await runtime.outbox.stage(session, ReporterIdentityExpired(
                report_id=report.id, kept_days=rule.reporter_identity_days,
                expired_on=rule.due_on(retention.Part.REPORTER_IDENTITY, closed), **common), subject=row.case_id)
            result.identities_erased.append(RetentionItem(case_id=row.case_id, report_id=report.id,
                                                          event_id=envelope.id))
            erased = True
    if retention.Part.EVIDENCE in due:
        for report in reports:
            if report.evidence_removed_at is not None:
                continue
            removed = len(report.evidence_urls or [])
            report.evidence_urls = []
            report.evidence_removed_at = now
            envelope = await runtime.outbox.stage(session, EvidenceExpired(
                report_id=report.id, kept_days=rule.evidence_days, links_removed=removed,
                expired_on=rule.due_on(retention.Part.EVIDENCE, closed), **common), subject=row.case_id)
            result.evidence_removed.append(RetentionItem(case_id=row.case_id, report_id=report.id,
                                                         event_id=envelope.id))
    if retention.Part.CASE in due:
        archived = await session.get(ArchivedCase, row.case_id)
        if archived is None:
            result.waiting_for_archive.append(row.case_id)
            return erased
        await session.flush()  # the identity and evidence changes above, before their rows go
        report_ids = [report.id for report in reports]
        if report_ids:
            await session.execute(delete(ReporterIdentityKey).where(ReporterIdentityKey.report_id.in_(report_ids)))
            await session.execute(delete(Report).where(Report.id.in_(report_ids)))
        await session.execute(delete(Case).where(Case.id == row.case_id))
        await session.delete(row)
        envelope = await runtime.outbox.stage(session, CaseRetired(
            kept_days=rule.case_days, retired_on=as_of, reports_removed=len(report_ids),
            archive_sha256=archived.archive_sha256, **common), subject=row.case_id)
        result.cases_retired.append(RetentionItem(case_id=row.case_id, event_id=envelope.id))
        erased = erased or bool(report_ids)
    return erased


async def record_archive(*, runtime: Runtime, body: ArchiveIn, recorded_by: str) -> ArchiveRecorded:
    """Record that a sealed archive of an election holds these cases; only those may then be retired. The seal
    is checked first (``archive_seal``): a refusal writes nothing."""
    sealed_closed = set(archive_seal.check(body, runtime.settings))  # type: ignore[arg-type]
    now = runtime.clock.now()
    async with runtime.transaction() as session:
        stages = {row.case_id: row for row in (await session.scalars(
            select(PublicCaseStage).where(PublicCaseStage.case_id.in_(body.case_ids)))).all()} if body.case_ids else {}
        for number, case_id in enumerate(body.case_ids):
            found = stages.get(case_id)
            if found is not None and CaseStatus.model_validate_json(found.state).election_code != body.election_code:
                raise Problem(422, "invalid archive", f"case {case_id} is not of election {body.election_code}",
                              errors=[{"field": f"case_ids.{number}", "reason": "not a case of this election"}])
        # Only a case closed both in the archive and here counts as archived: an open one may still gain
        # events this archive lacks, so it waits for an archive made after it closed.
        closed = [case_id for case_id in body.case_ids
                  if case_id in sealed_closed and case_id in stages and stages[case_id].stage in _CLOSED]
        existing = await session.get(ElectionArchive, body.sha256)
        if existing is None:
            session.add(ElectionArchive(sha256=body.sha256, election_code=body.election_code,
                                        cases=len(closed), events=body.events, recorded_by=recorded_by,
                                        recorded_at=now))
        for case_id in closed:
            row = await session.get(ArchivedCase, case_id)
            if row is None:
                session.add(ArchivedCase(case_id=case_id, election_code=body.election_code,
                                         archive_sha256=body.sha256, archived_at=now))
            else:
                row.archive_sha256, row.archived_at = body.sha256, now
    return ArchiveRecorded(election_code=body.election_code, sha256=body.sha256, closed_cases=len(closed),
                           open_cases=len(body.case_ids) - len(closed), recorded_at=now)


async def sweep_periodically(runtime: Runtime) -> None:
    """Intake's background task: sweep as of today in Jakarta, every ``SBT_SWEEP_INTERVAL_SECONDS``."""
    rules_of(runtime)  # a bad rules file is said at start, not at the first tick
    interval = runtime.settings.sweep_interval_seconds
    if interval <= 0:
        log.info("periodic retention sweep is off (SBT_SWEEP_INTERVAL_SECONDS=0)")
        return
    while True:
        try:
            result = await run(runtime=runtime, as_of=runtime.clock.today())
            if result.identities_erased or result.evidence_removed or result.cases_retired:
                log.info("retention sweep as of %s: %d identities, %d evidence, %d cases", result.as_of,
                         len(result.identities_erased), len(result.evidence_removed), len(result.cases_retired))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed sweep (database restarting) is retried at the next tick
            log.exception("periodic retention sweep failed")
        await asyncio.sleep(interval)


__all__ = ["Stage", "closed_on", "record_archive", "rules_of", "run", "sweep_periodically"]
