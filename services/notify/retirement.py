"""A retired case (``sbt.case.retired.v1``, sent by intake's retention sweep after its election's archive was
made) leaves notify's books: the stored copies of its events (whose payloads may name the reporter or hold
evidence links), their deliveries with every attempt, their messages on the feed stream and the case's routing facts. A
delivery retried later, a replay or the feed relay then finds nothing of the case to send. The retirement
event itself stays and is fanned out like any other: it carries ids and dates only, and tells subscribers
to forget the case too."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import CaseFacts, Delivery, DeliveryAttempt, FeedOutbox, StoredEvent


async def retire_case(session: AsyncSession, case_id: str, *, retirement_event_id: str, now: dt.datetime) -> None:
    """In the consumer's transaction; idempotent (a second retirement finds nothing left to remove)."""
    event_ids = list((await session.scalars(select(StoredEvent.event_id).where(
        StoredEvent.subject == case_id, StoredEvent.event_id != retirement_event_id))).all())
    if event_ids:
        delivery_ids = select(Delivery.delivery_id).where(Delivery.event_id.in_(event_ids))
        await session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(delivery_ids)))
        await session.execute(delete(Delivery).where(Delivery.event_id.in_(event_ids)))
        # Not yet sent: never sent. Sent: the feed relay erases the message from the feed stream (a NATS call,
        # so after this transaction commits), then the row.
        await session.execute(delete(FeedOutbox).where(FeedOutbox.event_id.in_(event_ids),
                                                       FeedOutbox.sent_at.is_(None)))
        await session.execute(update(FeedOutbox).where(FeedOutbox.event_id.in_(event_ids),
                                                       FeedOutbox.erase_requested_at.is_(None))
                              .values(erase_requested_at=now))
        await session.execute(delete(StoredEvent).where(StoredEvent.event_id.in_(event_ids)))
    await session.execute(delete(CaseFacts).where(CaseFacts.case_id == case_id))
