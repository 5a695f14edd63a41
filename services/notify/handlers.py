"""What notify consumes: every event. Each is kept as it arrived, routed (its agency, election, province),
queued once for every webhook subscription it matches and staged for the NATS feeds it belongs to, all in
the consumer's transaction with the inbox row, so a redelivered event queues nothing twice."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import domain
from services.notify.retirement import retire_case
from services.notify.models import CaseFacts, Delivery, FeedOutbox, StoredEvent, Subscription
from shared.authz import EVERY_AGENCY, AgencyScope
from shared.events import EVENT_MODELS, EventData, nats_subject
from shared.events.intake import CaseOpened, ReportReceived
from shared.events.retention import CaseRetired
from shared.ids import new_id
from shared.regions import agencies_of_office
from shared.messaging.consumer import HandlerTable, Incoming
from shared.service import Runtime

# Events that tell notify where a case belongs.
CASE_FACTS = frozenset({CaseOpened.event_type, ReportReceived.event_type})
# Subscriptions that still take new deliveries (a paused one keeps them for its resumption).
QUEUEING = (domain.ACTIVE, domain.PAUSED)


def scope_of_subscription(subscription: Subscription) -> AgencyScope:
    """The scope fixed at subscribe time (subscriptions.create), read with the one rule's own pieces: a PPK's
    agency, a regional office's region (shared.regions, as scope_of reads it), or every agency."""
    if not subscription.scope_agency and not subscription.scope_office:
        return EVERY_AGENCY
    agencies = {subscription.scope_agency} if subscription.scope_agency else set()
    if subscription.scope_office:
        agencies |= agencies_of_office(subscription.scope_office)
    return AgencyScope(agencies=frozenset(agencies))


def filters_of(subscription: Subscription) -> domain.Filters:
    return domain.Filters(subscription.event_types or (), subscription.election_codes or (),
                          subscription.provinces or (), subscription.agency_codes or ())


async def learn_case(session: AsyncSession, event: Incoming[EventData]) -> domain.KnownCase | None:
    data = event.data
    case_id = domain.case_id_of(event.envelope, data)
    if case_id is None:
        return None
    case = await session.get(CaseFacts, case_id)
    if event.envelope.type in CASE_FACTS:
        if case is None:
            case = CaseFacts(case_id=case_id)
            session.add(case)
        case.agency_code = data.agency_code or case.agency_code
        case.election_code = data.election_code or case.election_code
        case.province = data.province or case.province
    return domain.KnownCase(case.agency_code, case.election_code, case.province) if case is not None else None


def handlers(runtime: Runtime) -> HandlerTable:
    async def fan_out(session: AsyncSession, event: Incoming[EventData]) -> None:
        envelope = event.envelope
        where = domain.route(envelope, event.data, await learn_case(session, event))
        now = runtime.clock.now()
        raw = event.raw.decode() if event.raw is not None else envelope.model_dump_json(exclude_none=True)
        session.add(StoredEvent(
            event_id=envelope.id, stream_seq=event.stream_seq, event_type=envelope.type, subject=where.order_key,
            agency_code=where.agency_code, election_code=where.election_code, province=where.province,
            envelope=raw, received_at=now,
        ))
        subscriptions = (await session.scalars(select(Subscription).where(Subscription.state.in_(QUEUEING)))).all()
        for subscription in subscriptions:
            if domain.matches(scope_of_subscription(subscription), subscription.roles, filters_of(subscription),
                              envelope.type, where):
                session.add(Delivery(
                    delivery_id=new_id(), subscription_id=subscription.subscription_id, event_id=envelope.id,
                    stream_seq=event.stream_seq, order_key=where.order_key, state="pending", attempts=0,
                    next_attempt_at=now, created_at=now,
                ))
        subject = nats_subject(EVENT_MODELS[envelope.type])
        for feed in domain.feeds_for(where, envelope.type):
            session.add(FeedOutbox(feed=feed, event_id=envelope.id, nats_subject=domain.feed_subject(feed, subject)))

    async def on_case_retired(session: AsyncSession, event: Incoming[CaseRetired]) -> None:
        # Routed and queued first, while the case's facts still say whose it is; then the case goes.
        await fan_out(session, event)
        await retire_case(session, event.data.case_id, retirement_event_id=event.envelope.id,
                          now=runtime.clock.now())

    return {**{model: fan_out for model in EVENT_MODELS.values()}, CaseRetired: on_case_retired}
