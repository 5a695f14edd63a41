"""What the recommendation service learns from others: cases and their reports (intake), and the
violation catalogue. It keeps its own projection; it never reads another service's tables."""

from __future__ import annotations


from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.recommendation import domain
from services.recommendation.models import Case, Violation
from shared.clock import JAKARTA
from shared.events.intake import CaseOpened, ReportReceived
from shared.events.reference import ViolationRegistered
from shared.events.retention import CaseRetired
from shared.messaging.consumer import HandlerTable, Incoming


class Projection:
    """The handlers, with the settings and calendar that compute each case's verification target."""

    def __init__(self, runtime) -> None:  # noqa: ANN001 - shared.service.Runtime
        self.settings = runtime.settings
        self.calendar = runtime.calendar
        self.clock = runtime.clock  # bookkeeping times follow the injectable clock too

    def _verification_due(self, opened_at):  # noqa: ANN001, ANN202
        return domain.verification_due(
            opened_at.astimezone(JAKARTA).date(),
            self.settings.verification_target_days,
            working_days=self.settings.verification_target_in_working_days,
            calendar=self.calendar,
        )

    async def _locked_case(self, session: AsyncSession, case_id: str) -> Case | None:
        # Locked so that a decision and a report on the same case, or two replicas, never lose an update.
        return await session.scalar(select(Case).where(Case.case_id == case_id).with_for_update())

    def _new_case(self, data: CaseOpened | ReportReceived, opened_at) -> Case:  # noqa: ANN001
        return Case(
            case_id=data.case_id,
            nip=data.nip,
            election_code=data.election_code,
            agency_code=data.agency_code,
            province=data.province,
            violation_codes=[],
            report_count=0,
            opened_at=opened_at,
            verification_due=self._verification_due(opened_at),
            stage=domain.Stage.AWAITING_VERIFICATION.value,
            updated_at=self.clock.now(),
        )

    async def case_opened(self, session: AsyncSession, event: Incoming[CaseOpened]) -> None:
        data = event.data
        case = await self._locked_case(session, data.case_id)
        if case is None:
            session.add(self._new_case(data, data.opened_at))
            return
        # The report came first (order is not guaranteed across a replay): the opening date wins.
        case.opened_at = data.opened_at
        case.verification_due = self._verification_due(data.opened_at)
        case.agency_code = case.agency_code or data.agency_code
        case.province = case.province or data.province
        case.updated_at = self.clock.now()

    async def report_received(self, session: AsyncSession, event: Incoming[ReportReceived]) -> None:
        data = event.data
        case = await self._locked_case(session, data.case_id)
        if case is None:
            case = self._new_case(data, data.received_at)
            session.add(case)
        # A report on a case already decided is still counted, but does not reopen it: a new case is
        # intake's decision, not this service's.
        case.report_count += 1
        case.violation_codes = sorted(set(case.violation_codes) | set(data.violation_codes))
        case.agency_code = case.agency_code or data.agency_code
        case.province = case.province or data.province
        case.updated_at = self.clock.now()

    async def violation_registered(self, session: AsyncSession, event: Incoming[ViolationRegistered]) -> None:
        data = event.data
        entry = await session.get(Violation, data.code, with_for_update=True)
        if entry is None:
            entry = Violation(code=data.code)
            session.add(entry)
        entry.category = data.category
        entry.description = data.description
        entry.legal_basis = data.legal_basis
        entry.default_sanction = data.default_sanction
        entry.updated_at = self.clock.now()


    async def case_retired(self, session: AsyncSession, event: Incoming[CaseRetired]) -> None:
        """A closed case at the end of its retention period (intake's sweep): it leaves this service's books.
        Deleting what is already gone is harmless, so a redelivery changes nothing."""
        await session.execute(delete(Case).where(Case.case_id == event.data.case_id))


def handlers(runtime) -> HandlerTable:  # noqa: ANN001
    projection = Projection(runtime)
    return {
        CaseRetired: projection.case_retired,
        CaseOpened: projection.case_opened,
        ReportReceived: projection.report_received,
        ViolationRegistered: projection.violation_registered,
    }
