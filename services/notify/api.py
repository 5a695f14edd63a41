"""The notify service's routes: webhook subscriptions (make, list, show, pause, resume, delete, rotate the
secret), their delivery log, a redelivery by hand and a replay of a range of the stream."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from sqlalchemy import func, select

from services.notify import domain, signing, targets
from services.notify.handlers import filters_of, scope_of_subscription
from services.notify.models import Delivery, DeliveryAttempt, StoredEvent, Subscription
from services.notify.schemas import (
    AttemptOut,
    DeliveryList,
    DeliveryOut,
    ReplayIn,
    ReplayOut,
    SecretRotated,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
)
from shared.auth import Actor, require
from shared.authz import scope_of
from shared.crypto import Keyring
from shared.events import EVENT_MODELS
from shared.ids import new_id
from shared.problems import Problem
from shared.service import Runtime, RuntimeDep

router = APIRouter(prefix="/v1", tags=["subscriptions"])

CanRead = Annotated[Actor, Depends(require("subscription:read"))]
CanWrite = Annotated[Actor, Depends(require("subscription:write"))]
IdPath = Annotated[str, Path(max_length=40, description="the subscription's id")]
NOT_FOUND = {404: {"description": "no such subscription of the caller's"}}


def _out(subscription: Subscription, model: type[SubscriptionOut] = SubscriptionOut, **extra) -> SubscriptionOut:  # noqa: ANN003
    return model(
        subscription_id=subscription.subscription_id, url=subscription.url, description=subscription.description,
        state=subscription.state, event_types=subscription.event_types, election_codes=subscription.election_codes,
        provinces=subscription.provinces, agency_codes=subscription.agency_codes,
        scope_agency=subscription.scope_agency, owner_client_id=subscription.owner_client_id,
        owner_agency=subscription.owner_agency, failing_since=subscription.failing_since,
        disabled_reason=subscription.disabled_reason,
        previous_secret_valid_until=subscription.previous_valid_until if subscription.previous_secret_sealed else None,
        created_at=subscription.created_at, updated_at=subscription.updated_at, **extra,
    )


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


@router.post("/subscriptions", response_model=SubscriptionCreated, status_code=status.HTTP_201_CREATED,
             summary="Subscribe a webhook to events within the caller's scope; answers the signing secret once",
             responses={403: {"description": "the caller's token covers no agency"},
                        422: {"description": "a field is invalid, the target is refused, or a filter is outside "
                                             "the caller's scope"}})
async def create(body: SubscriptionIn, actor: CanWrite, runtime: RuntimeDep) -> SubscriptionCreated:
    scope = scope_of(actor, "subscription:write")
    if not scope.every_agency and scope.agency is None:
        raise Problem(403, "forbidden", "a PPK token must name the agency it acts for (ppk_agency)")
    for position, event_type in enumerate(body.event_types):
        if event_type not in EVENT_MODELS:
            raise Problem.field(f"event_types.{position}", f"unknown event type {event_type}")
        if not domain.may_receive(sorted(actor.roles), event_type):
            raise Problem.field(f"event_types.{position}", f"the caller's roles may not read {event_type} "
                                f"(it needs '{domain.event_permission(event_type)}')")
    for position, code in enumerate(body.agency_codes):
        if not scope.admits(code):
            raise Problem.field(f"agency_codes.{position}", f"{code} is outside the caller's scope ({scope.agency})")
    settings = runtime.settings
    try:
        await targets.check(body.url, production=settings.env == "production",
                            allow=targets.AllowList.parse(settings.webhook_allow_hosts))
    except targets.TargetRefused as error:
        raise Problem.field("url", str(error)) from None
    subscription_id, secret, now = new_id(), signing.new_secret(), runtime.clock.now()
    subscription = Subscription(
        subscription_id=subscription_id, owner_client_id=actor.client_id, owner_agency=actor.agency,
        scope_agency=None if scope.every_agency else scope.agency, roles=sorted(actor.roles), url=body.url,
        description=body.description,
        event_types=sorted(set(body.event_types)), election_codes=sorted(set(body.election_codes)),
        provinces=sorted({p.upper() for p in body.provinces}), agency_codes=sorted(set(body.agency_codes)),
        state=domain.ACTIVE, secret_sealed=signing.seal_secret(Keyring.from_settings(settings), subscription_id, secret),
        created_at=now, updated_at=now,
    )
    async with runtime.transaction() as session:
        session.add(subscription)
    return _out(subscription, SubscriptionCreated, secret=secret)


@router.get("/subscriptions", response_model=SubscriptionList, summary="The caller's webhook subscriptions")
async def list_subscriptions(
    actor: CanRead, runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> SubscriptionList:
    where = [Subscription.state != domain.DELETED]
    if "admin" not in actor.roles:
        where.append(Subscription.owner_client_id == actor.client_id)
    async with runtime.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Subscription).where(*where))
        rows = (await session.scalars(select(Subscription).where(*where).order_by(Subscription.created_at)
                                      .limit(limit).offset(offset))).all()
    return SubscriptionList(total=total or 0, subscriptions=[_out(row) for row in rows])


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut, summary="One subscription",
            responses=NOT_FOUND)
async def show(subscription_id: IdPath, actor: CanRead, runtime: RuntimeDep) -> SubscriptionOut:
    async with runtime.sessions() as session:
        return _out(await _own(session, actor, subscription_id))


async def _act(runtime: Runtime, actor: Actor, subscription_id: str, action: str) -> SubscriptionOut:
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
    return _out(subscription)


@router.post("/subscriptions/{subscription_id}/pause", response_model=SubscriptionOut,
             summary="Pause deliveries (events keep queueing and are sent on resumption)",
             responses={**NOT_FOUND, 409: {"description": "a disabled subscription cannot be paused"}})
async def pause(subscription_id: IdPath, actor: CanWrite, runtime: RuntimeDep) -> SubscriptionOut:
    return await _act(runtime, actor, subscription_id, "pause")


@router.post("/subscriptions/{subscription_id}/resume", response_model=SubscriptionOut,
             summary="Resume a paused or disabled subscription; what is queued is sent in order",
             responses=NOT_FOUND)
async def resume(subscription_id: IdPath, actor: CanWrite, runtime: RuntimeDep) -> SubscriptionOut:
    return await _act(runtime, actor, subscription_id, "resume")


@router.delete("/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a subscription; what is still queued for it is cancelled", responses=NOT_FOUND)
async def delete(subscription_id: IdPath, actor: CanWrite, runtime: RuntimeDep) -> Response:
    async with runtime.transaction() as session:
        subscription = await _own(session, actor, subscription_id, lock=True)
        subscription.state, subscription.updated_at = domain.DELETED, runtime.clock.now()
        pending = (await session.scalars(select(Delivery).where(
            Delivery.subscription_id == subscription_id, Delivery.state == "pending"))).all()
        for delivery in pending:
            delivery.state = "cancelled"
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/subscriptions/{subscription_id}/secret", response_model=SecretRotated,
             summary="Rotate the signing secret; the old one keeps signing for the configured overlap",
             responses=NOT_FOUND)
async def rotate_secret(subscription_id: IdPath, actor: CanWrite, runtime: RuntimeDep) -> SecretRotated:
    keyring = Keyring.from_settings(runtime.settings)
    secret, now = signing.new_secret(), runtime.clock.now()
    until = now + dt.timedelta(seconds=runtime.settings.webhook_secret_overlap_seconds)
    async with runtime.transaction() as session:
        subscription = await _own(session, actor, subscription_id, lock=True)
        subscription.previous_secret_sealed = subscription.secret_sealed
        subscription.previous_valid_until = until
        subscription.secret_sealed = signing.seal_secret(keyring, subscription_id, secret)
        subscription.updated_at = now
    return SecretRotated(subscription_id=subscription_id, secret=secret, previous_secret_valid_until=until)


@router.get("/subscriptions/{subscription_id}/deliveries", response_model=DeliveryList,
            summary="The delivery log: every delivery, newest first, with every attempt (time, status, latency, "
                    "error)", responses=NOT_FOUND)
async def deliveries(
    subscription_id: IdPath, actor: CanRead, runtime: RuntimeDep,
    state: Annotated[str | None, Query(pattern="^(pending|delivered|failed|cancelled)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> DeliveryList:
    async with runtime.sessions() as session:
        await _own(session, actor, subscription_id)
        where = [Delivery.subscription_id == subscription_id, *([Delivery.state == state] if state else [])]
        total = await session.scalar(select(func.count()).select_from(Delivery).where(*where))
        rows = (await session.execute(
            select(Delivery, StoredEvent.event_type).join(StoredEvent, StoredEvent.event_id == Delivery.event_id)
            .where(*where).order_by(Delivery.stream_seq.desc()).limit(limit).offset(offset)
        )).all()
        ids = [row.Delivery.delivery_id for row in rows]
        attempts: dict[str, list[AttemptOut]] = {delivery_id: [] for delivery_id in ids}
        if ids:
            for attempt in (await session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids))
                                                  .order_by(DeliveryAttempt.attempted_at, DeliveryAttempt.id))).all():
                attempts[attempt.delivery_id].append(AttemptOut(
                    attempted_at=attempt.attempted_at, status_code=attempt.status_code, latency_ms=attempt.latency_ms,
                    success=attempt.success, error=attempt.error, response_excerpt=attempt.response_excerpt))
    return DeliveryList(total=total or 0, deliveries=[
        DeliveryOut(delivery_id=d.delivery_id, event_id=d.event_id, event_type=event_type, stream_seq=d.stream_seq,
                    state=d.state, attempts_in_round=d.attempts,
                    next_attempt_at=d.next_attempt_at if d.state == "pending" else None,
                    delivered_at=d.delivered_at, attempts=attempts[d.delivery_id])
        for d, event_type in rows
    ])


@router.post("/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut,
             summary="Send one delivery again now (a new round of the retry schedule)",
             responses={404: {"description": "no such subscription or delivery of the caller's"}})
async def redeliver(subscription_id: IdPath, delivery_id: Annotated[str, Path(max_length=40)], actor: CanWrite,
                    runtime: RuntimeDep) -> DeliveryOut:
    async with runtime.transaction() as session:
        await _own(session, actor, subscription_id)
        delivery = await session.get(Delivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.subscription_id != subscription_id:
            raise Problem(404, "not found", f"no delivery {delivery_id} of subscription {subscription_id}")
        event_type = await session.scalar(select(StoredEvent.event_type).where(StoredEvent.event_id == delivery.event_id))
        _requeue(delivery, runtime.clock.now())
    _wake(runtime)
    return DeliveryOut(delivery_id=delivery.delivery_id, event_id=delivery.event_id, event_type=event_type,
                       stream_seq=delivery.stream_seq, state=delivery.state, attempts_in_round=0,
                       next_attempt_at=delivery.next_attempt_at, delivered_at=delivery.delivered_at, attempts=[])


def _requeue(delivery: Delivery, now: dt.datetime) -> None:
    delivery.state, delivery.attempts, delivery.next_attempt_at, delivery.lease_until = "pending", 0, now, None


@router.post("/subscriptions/{subscription_id}/replay", response_model=ReplayOut,
             summary="Send again every event of a range of stream positions that the subscription matches",
             responses={**NOT_FOUND, 422: {"description": "the range is empty or reversed"}})
async def replay(subscription_id: IdPath, body: ReplayIn, actor: CanWrite, runtime: RuntimeDep) -> ReplayOut:
    if body.to_stream_seq is not None and body.to_stream_seq < body.from_stream_seq:
        raise Problem.field("to_stream_seq", "must not be before from_stream_seq")
    now, queued = runtime.clock.now(), 0
    async with runtime.transaction() as session:
        subscription = await _own(session, actor, subscription_id, lock=True)
        scope, filters = scope_of_subscription(subscription), filters_of(subscription)
        where = [StoredEvent.stream_seq >= body.from_stream_seq]
        if body.to_stream_seq is not None:
            where.append(StoredEvent.stream_seq <= body.to_stream_seq)
        events = (await session.scalars(select(StoredEvent).where(*where).order_by(StoredEvent.stream_seq)
                                        .limit(100_000))).all()
        existing = {d.event_id: d for d in (await session.scalars(select(Delivery).where(
            Delivery.subscription_id == subscription_id, Delivery.stream_seq >= body.from_stream_seq))).all()}
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
    return ReplayOut(subscription_id=subscription_id, queued=queued)
