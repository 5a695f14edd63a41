"""What the sanction service consumes: a recommendation opens the PPK's follow-up obligation and sets its
deadline; agency registrations give the PPK's title for follow-up lists; BKN's decision to give an overdue
case more time instead of blocking (blocking's ``sbt.block.time_granted.v1``) extends its deadline."""

from __future__ import annotations

import logging

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.sanction import domain
from services.sanction.models import Agency, DeadlineChange, Followup, Notice
from shared.clock import JAKARTA
from shared.events.recommendation import RecommendationIssued
from shared.events.reference import AgencyRegistered
from shared.events.blocking import MoreTimeGranted
from shared.events.retention import CaseRetired
from shared.events.sanction import DeadlineExtended, DeadlineSet
from shared.messaging.consumer import HandlerTable, Incoming

log = logging.getLogger("sbt.sanction")


def handlers(runtime) -> HandlerTable:  # noqa: ANN001 - the Runtime, typed loosely to avoid a cycle

    async def on_recommendation(session: AsyncSession, event: Incoming[RecommendationIssued]) -> None:
        data = event.data
        if data.imported:
            # An agency's past case (`sbt import history`): its obligation, with the original dates and no
            # running deadline, is written by the import itself. No live deadline, so no sweep warns on it.
            return
        if await session.get(Followup, data.case_id) is not None:
            # One obligation per case: a second recommendation for the same case is kept out, not doubled.
            log.warning("case %s already has a follow-up obligation; recommendation %s ignored",
                        data.case_id, data.recommendation_number)
            return
        issued_on = data.issued_at.astimezone(JAKARTA).date()
        working_days = runtime.settings.followup_working_days
        due = domain.due_date(issued_on, working_days, runtime.calendar)
        now = runtime.clock.now()
        session.add(
            Followup(
                case_id=data.case_id,
                nip=data.nip,
                agency_code=data.agency_code,
                recommendation_number=data.recommendation_number,
                category=data.category,
                recommended_level=data.sanction_level,
                issued_on=issued_on,
                working_days=working_days,
                state=domain.State.PENDING.value,
                due_date=due,
                lighter_than_recommended=False,
                late=False,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        await runtime.outbox.stage(
            session,
            DeadlineSet(case_id=data.case_id, nip=data.nip, agency_code=data.agency_code, due_date=due,
                        working_days=working_days, set_at=now),
            subject=data.case_id,
        )

    async def on_agency(session: AsyncSession, event: Incoming[AgencyRegistered]) -> None:
        data = event.data
        row = await session.get(Agency, data.code)
        if row is None:
            session.add(Agency(code=data.code, name=data.name, ppk_title=data.ppk_title, ppk_name=data.ppk_name,
                               province=data.province))
        else:
            row.name, row.ppk_title, row.ppk_name = data.name, data.ppk_title, data.ppk_name
            row.province = data.province

    async def on_more_time(session: AsyncSession, event: Incoming[MoreTimeGranted]) -> None:
        data = event.data
        row = await session.get(Followup, data.case_id, with_for_update=True)
        if row is None:
            log.warning("more time granted for case %s, which has no follow-up obligation here", data.case_id)
            return
        try:
            state = domain.transition(domain.State(row.state), domain.Action.EXTEND)
        except domain.TransitionRefused as refused:  # e.g. the PPK recorded the decree meanwhile
            log.warning("more time granted for case %s not applied: %s", data.case_id, refused)
            return
        now = runtime.clock.now()
        due = domain.extended_due_date(row.due_date, data.working_days, runtime.calendar)
        session.add(DeadlineChange(
            case_id=row.case_id, action=domain.Action.EXTEND.value, reason=data.reason,
            effective_on=data.decided_at.astimezone(JAKARTA).date(), working_days=data.working_days,
            due_date_before=row.due_date, due_date_after=due, decided_by_agency="BKN",
            decided_by_client=data.decided_by, decided_at=data.decided_at,
        ))
        row.state, row.due_date, row.overdue_on, row.updated_at = state.value, due, None, now
        await session.flush()
        await runtime.outbox.stage(
            session,
            DeadlineExtended(case_id=row.case_id, reason=data.reason, working_days=data.working_days, due_date=due),
            subject=row.case_id,
        )

    async def on_case_retired(session: AsyncSession, event: Incoming[CaseRetired]) -> None:
        # A closed case at the end of its retention period (intake's sweep): its obligation, the notices
        # announced and the deadline changes leave this service's books (idempotent: gone stays gone).
        case_id = event.data.case_id
        for table in (Notice, DeadlineChange, Followup):
            await session.execute(delete(table).where(table.case_id == case_id))

    return {
        CaseRetired: on_case_retired,
        RecommendationIssued: on_recommendation,
        AgencyRegistered: on_agency,
        MoreTimeGranted: on_more_time,
    }
