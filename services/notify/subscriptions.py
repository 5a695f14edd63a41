"""The notify service's units of work on webhook subscriptions: each function is one transaction (or one
read) begun here, so that the routes in api.py only parse, authorise and call. A subscription is seen only
by its owner or an admin; anyone else is answered 404, as if it did not exist."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from services.notify import domain, signing
from services.notify.handlers import filters_of, scope_of_subscription
from services.notify.models import Delivery, DeliveryAttempt, StoredEvent, Subscription
from services.notify.schemas import SubscriptionIn
from shared.auth import Actor
from shared.authz import AgencyScope
from shared.crypto import Keyring
from shared.ids import new_id
from shared.problems import Problem
from shared.service import Runtime


@dataclass(frozen=True)
class Made:
    subscription: Subscription
    secret: str


@dataclass(frozen=True)
class Rotated:
    secret: str
    previous_valid_until: dt.datetime


@dataclass(frozen=True)
class LoggedDelivery:
    delivery: Delivery
    event_type: str
    attempts: list[DeliveryAttempt]


def _sees(actor: Actor, subscription: Subscription) -> bool:
    """An owner sees its own subscriptions; an admin every one."""
    return "admin" in actor.roles or subscription.owner_client_id == actor.client_id


async def _own(session, actor: Actor, subscription_id: str, *, lock: bool = False) -> Subscription:  # noqa: ANN001
    subscription = await session.get(Subscription, subscription_id, with_for_update=lock)
    if subscription is None or subscription.state == domain.DELETED or not _sees(actor, subscription):
        raise Problem(404, "not found", f"no subscription {subscription_id}")
    return subscription


def _wake(runtime: Runtime) -> None:
    dispatcher = runtime.extensions.get("dispatcher")
    if dispatcher is not None:
        dispatcher.wake()


def _requeue(delivery: Delivery, now: dt.datetime) -> None:
    delivery.state, delivery.attempts, delivery.next_attempt_at, delivery.lease_until = "pending", 0, now, None


async def create(*, runtime: Runtime, actor: Actor, scope: AgencyScope, body: SubscriptionIn) -> Made:
    """A new active subscription with a fresh signing secret (sealed at rest; answered once)."""
    subscription_id, secret, now = new_id(), signing.new_secret(), runtime.clock.now()
    subscription = Subscription(
        subscription_id=subscription_id, owner_client_id=actor.client_id, owner_agency=actor.agency,
        scope_agency=None if scope.every_agency else actor.ppk_agency if "ppk" in actor.roles else None,
        scope_office=None if scope.every_agency else actor.bkn_office if "bkn_regional" in actor.roles else None,
        roles=sorted(actor.roles), url=body.url,
        description=body.description,
        event_types=sorted(set(body.event_types)), election_codes=sorted(set(body.election_codes)),
        provinces=sorted({p.upper() for p in body.provinces}), agency_codes=sorted(set(body.agency_codes)),
        state=domain.ACTIVE,
        secret_sealed=signing.seal_secret(Keyring.from_settings(runtime.settings), subscription_id, secret),
        created_at=now, updated_at=now,
    )
    async with runtime.transaction() as session:
        session.add(subscription)
    return Made(subscription, secret)


async def list_visible(*, runtime: Runtime, actor: Actor, limit: int, offset: int) -> tuple[int, Sequence[Subscription]]:
    where = [Subscription.state != domain.DELETED]
    if "admin" not in actor.roles:
        where.append(Subscription.owner_client_id == actor.client_id)
    async with runtime.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Subscription).where(*where))
        rows = (await session.scalars(select(Subscription).where(*where).order_by(Subscription.created_at)
                                      .limit(limit).offset(offset))).all()
    return int(total or 0), rows


async def show(*, runtime: Runtime, actor: Actor, subscription_id: str) -> Subscription:
    async with runtime.sessions() as session:
        return await _own(session, actor, subscription_id)


async def act(*, runtime: Runtime, actor: Actor, subscription_id: str, action: str) -> Subscription:
    """Pause or resume; a resumed subscription starts with a clean failure record."""
    async with runtime.transaction() as session:
        subscription = await _own(session, actor, subscription_id, lock=True)
        try:
            subscription.state = domain.transition(subscription.state, action)
        except domain.NotAllowed as error:
            raise Problem(409, "conflict", str(error)) from None
        if action == "resume":
            subscription.failing_since, subscription.disabled_reason = None, None
        subscription.updated_at = runtime.clock.now()
    _wake(runtime)
    return subscription


async def delete(*, runtime: Runtime, actor: Actor, subscription_id: str) -> None:
    """Deleted, and what is still queued for it cancelled, together."""
    async with runtime.transaction() as session:
        subscription = await _own(session, actor, subscription_id, lock=True)
        subscription.state, subscription.updated_at = domain.DELETED, runtime.clock.now()
        pending = (await session.scalars(select(Delivery).where(
            Delivery.subscription_id == subscription_id, Delivery.state == "pending"))).all()
        for delivery in pending:
            delivery.state = "cancelled"


async def rotate_secret(*, runtime: Runtime, actor: Actor, subscription_id: str) -> Rotated:
    """A new secret; the old one keeps signing (beside it) for SBT_WEBHOOK_SECRET_OVERLAP_SECONDS."""
    keyring = Keyring.from_settings(runtime.settings)
    secret, now = signing.new_secret(), runtime.clock.now()
    until = now + dt.timedelta(seconds=runtime.settings.webhook_secret_overlap_seconds)
    async with runtime.transaction() as session:
        subscription = await _own(session, actor, subscription_id, lock=True)
        subscription.previous_secret_sealed = subscription.secret_sealed
        subscription.previous_valid_until = until
        subscription.secret_sealed = signing.seal_secret(keyring, subscription_id, secret)
        subscription.updated_at = now
    return Rotated(secret, until)


async def delivery_log(*, runtime: Runtime, actor: Actor, subscription_id: str, state: str | None, limit: int,
                       offset: int) -> tuple[int, list[LoggedDelivery]]:
    """A subscription's deliveries, newest first, each with every attempt."""
    async with runtime.sessions() as session:
        await _own(session, actor, subscription_id)
        where = [Delivery.subscription_id == subscription_id, *([Delivery.state == state] if state else [])]
        total = await session.scalar(select(func.count()).select_from(Delivery).where(*where))
        rows = (await session.execute(
            select(Delivery, StoredEvent.event_type).join(StoredEvent, StoredEvent.event_id == Delivery.event_id)
            .where(*where).order_by(Delivery.stream_seq.desc()).limit(limit).offset(offset)
        )).all()
        ids = [row.Delivery.delivery_id for row in rows]
        attempts: dict[str, list[DeliveryAttempt]] = {delivery_id: [] for delivery_id in ids}
        if ids:
            for attempt in (await session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids))
                                                  .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id))).all():
                attempts[attempt.delivery_id].append(attempt)
    return int(total or 0), [LoggedDelivery(d, event_type, attempts[d.delivery_id]) for d, event_type in rows]


async def redeliver(*, runtime: Runtime, actor: Actor, subscription_id: str, delivery_id: str) -> LoggedDelivery:
    """One delivery queued again now, as a new round of the retry schedule."""
    async with runtime.transaction() as session:
        await _own(session, actor, subscription_id)
        delivery = await session.get(Delivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.subscription_id != subscription_id:
            raise Problem(404, "not found", f"no delivery {delivery_id} of subscription {subscription_id}")
        event_type = await session.scalar(select(StoredEvent.event_type).where(StoredEvent.event_id == delivery.event_id))
        _requeue(delivery, runtime.clock.now())
    _wake(runtime)
    return LoggedDelivery(delivery, event_type, [])


async def replay(*, runtime: Runtime, actor: Actor, subscription_id: str, from_seq: int, to_seq: int | None) -> int:
    """Every stored event of the range that the subscription matches queued again (once each); how many."""
    now, queued = runtime.clock.now(), 0
    async with runtime.transaction() as session:
        subscription = await _own(session, actor, subscription_id, lock=True)
        scope, filters = scope_of_subscription(subscription), filters_of(subscription)
        where = [StoredEvent.stream_seq >= from_seq]
        if to_seq is not None:
            where.append(StoredEvent.stream_seq <= to_seq)
        events = (await session.scalars(select(StoredEvent).where(*where).order_by(StoredEvent.stream_seq)
                                        .limit(100_000))).all()
        existing = {d.event_id: d for d in (await session.scalars(select(Delivery).where(
            Delivery.subscription_id == subscription_id, Delivery.stream_seq >= from_seq))).all()}
        for event in events:
            route = domain.Route(event.agency_code, event.election_code, event.province, event.subject)
            if not domain.matches(scope, subscription.roles, filters, event.event_type, route):
                continue
            queued += 1
            if event.event_id in existing:
                _requeue(existing[event.event_id], now)
                continue
            session.add(Delivery(delivery_id=new_id(), subscription_id=subscription_id, event_id=event.event_id,
                                 stream_seq=event.stream_seq, order_key=event.subject, state="pending", attempts=0,
                                 next_attempt_at=now, created_at=now))
    _wake(runtime)
    return queued
