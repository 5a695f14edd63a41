"""The deadline sweep: for a given day, announce early warnings, last-day warnings and overdue follow-ups.

It runs periodically (the service's background task, as of today in Jakarta) and on demand for any date
(``POST /v1/sweeps``), which is how tests and drills move time. A sweep is idempotent: each announcement
is a row in ``notices`` keyed by case, due date and kind, written in the transaction that stages its
event, so two sweeps (periodic and on demand, or two replicas) never announce the same thing twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.sanction import domain
from services.sanction.models import Followup, Notice
from services.sanction.schemas import SweepItem, SweepResult
from shared import metrics
from shared.events.sanction import FollowupOverdue, FollowupWarning
from shared.service import Runtime

log = logging.getLogger("sbt.sanction.sweep")

BATCH = 200
_ATTEMPTS = 3


async def run(*, runtime: Runtime, as_of: dt.date) -> SweepResult:
    warning_days = runtime.settings.warning_working_days
    # Only running deadlines due by this date can have anything to announce.
    horizon = domain.sweep_horizon(as_of, warning_days, runtime.calendar)
    result = SweepResult(as_of=as_of, warnings=[], overdue=[])
    after = ""
    while True:
        for attempt in range(_ATTEMPTS):
            try:
                async with runtime.transaction() as session:
                    rows = (await session.scalars(
                        select(Followup)
                        .where(Followup.state == domain.State.PENDING.value, Followup.due_date <= horizon,
                               Followup.case_id > after)
                        .order_by(Followup.case_id)
                        .limit(BATCH)
                        .with_for_update()
                    )).all()
                    announced = await _announced(session, rows)
                    emitted = [item for row in rows
                               if (item := await _sweep_one(session, runtime, row, as_of, warning_days, announced))]
                    await session.flush()
                break
            except IntegrityError:
                # Another sweep announced one of these first; run the batch again, it now sees the notice.
                if attempt == _ATTEMPTS - 1:
                    raise
        for item in emitted:
            (result.overdue if item.kind == domain.NoticeKind.OVERDUE else result.warnings).append(item)
        if len(rows) < BATCH:
            # An alert fires when no sweep ran for an hour (deploy/prometheus/alerts.yml).
            metrics.DEADLINE_SWEEPS.inc()
            return result
        after = rows[-1].case_id


async def _announced(session: AsyncSession, rows: list[Followup]) -> set[tuple[str, dt.date, str]]:
    """What was already announced for these cases (one query per batch, not one per case)."""
    if not rows:
        return set()
    found = await session.execute(
        select(Notice.case_id, Notice.due_date, Notice.kind).where(Notice.case_id.in_([row.case_id for row in rows]))
    )
    return {(case_id, due_date, kind) for case_id, due_date, kind in found}


async def _sweep_one(
    session: AsyncSession, runtime: Runtime, row: Followup, as_of: dt.date, warning_days: int,
    announced: set[tuple[str, dt.date, str]],
) -> SweepItem | None:
    notice = domain.notice_due(due=row.due_date, as_of=as_of, warning_days=warning_days, calendar=runtime.calendar)
    if notice is None or (row.case_id, row.due_date, notice.kind.value) in announced:
        return None
    now = runtime.clock.now()
    if notice.kind is domain.NoticeKind.OVERDUE:
        row.state = domain.transition(domain.State(row.state), domain.Action.OVERDUE).value
        # The day it became overdue, whichever day the sweep happened to run.
        row.overdue_on = runtime.calendar.add_working_days(row.due_date, 1)
        event = FollowupOverdue(case_id=row.case_id, nip=row.nip, agency_code=row.agency_code,
                                due_date=row.due_date, overdue_on=row.overdue_on)
    else:
        domain.transition(domain.State(row.state), domain.Action.WARN)
        row.warned_on = as_of
        event = FollowupWarning(case_id=row.case_id, nip=row.nip, agency_code=row.agency_code,
                                due_date=row.due_date, working_days_left=notice.working_days_left, warned_on=as_of)
    row.updated_at = now
    envelope = await runtime.outbox.stage(session, event, subject=row.case_id)
    # Flushed with the batch: a notice another sweep wrote first fails the batch's unique key.
    session.add(Notice(case_id=row.case_id, due_date=row.due_date, kind=notice.kind.value, as_of=as_of,
                       event_id=envelope.id, created_at=now))
    return SweepItem(case_id=row.case_id, kind=notice.kind.value, due_date=row.due_date,
                     working_days_left=notice.working_days_left, event_id=envelope.id)


async def sweep_periodically(runtime: Runtime) -> None:
    """The service's background task: sweep as of today in Jakarta, every ``SBT_SWEEP_INTERVAL_SECONDS``."""
    interval = runtime.settings.sweep_interval_seconds
    if interval <= 0:
        log.info("periodic deadline sweep is off (SBT_SWEEP_INTERVAL_SECONDS=0)")
        return
    while True:
        try:
            result = await run(runtime=runtime, as_of=runtime.clock.today())
            if result.warnings or result.overdue:
                log.info("sweep as of %s: %d warnings, %d overdue", result.as_of, len(result.warnings),
                         len(result.overdue))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed sweep (database restarting) is retried at the next tick
            log.exception("periodic deadline sweep failed")
        await asyncio.sleep(interval)
