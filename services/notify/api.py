"""The notify service's routes: webhook subscriptions (make, list, show, pause, resume, delete, rotate the
secret), their delivery log, a redelivery by hand and a replay of a range of the stream. Each route parses,
authorises and calls its unit of work in services/notify/subscriptions.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.notify import domain, subscriptions, targets
from services.notify.models import DeliveryAttempt, Subscription
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
from shared.events import EVENT_MODELS
from shared.problems import Problem
from shared.service import RuntimeDep

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
        scope_agency=subscription.scope_agency, scope_office=subscription.scope_office,
        owner_client_id=subscription.owner_client_id,
        owner_agency=subscription.owner_agency, failing_since=subscription.failing_since,
        disabled_reason=subscription.disabled_reason,
        previous_secret_valid_until=subscription.previous_valid_until if subscription.previous_secret_sealed else None,
        created_at=subscription.created_at, updated_at=subscription.updated_at, **extra,
    )


@router.post("/subscriptions", response_model=SubscriptionCreated, status_code=status.HTTP_201_CREATED,
             summary="Subscribe a webhook to events within the caller's scope; answers the signing secret once",
             responses={403: {"description": "the caller's token covers no agency"},
                        422: {"description": "a field is invalid, the target is refused, or a filter is outside "
                                             "the caller's scope"}})
async def create(body: SubscriptionIn, actor: CanWrite, runtime: RuntimeDep) -> SubscriptionCreated:
    scope = scope_of(actor, "subscription:write")
    if scope.nobody:
        raise Problem(403, "forbidden", "a PPK token must name the agency it acts for (ppk_agency), a regional "
                                        "office's token a known office (bkn_office)")
    for position, event_type in enumerate(body.event_types):
        if event_type not in EVENT_MODELS:
            raise Problem.field(f"event_types.{position}", f"unknown event type {event_type}")
        if not domain.may_receive(sorted(actor.roles), event_type):
            raise Problem.field(f"event_types.{position}", f"the caller's roles may not read {event_type} "
                                f"(it needs '{domain.event_permission(event_type)}')")
    for position, code in enumerate(body.agency_codes):
        if not scope.admits(code):
            raise Problem.field(f"agency_codes.{position}", f"{code} is outside the caller's agencies")
    settings = runtime.settings
    try:
        await targets.check(body.url, production=settings.env == "production",
                            allow=targets.AllowList.parse(settings.webhook_allow_hosts))
    except targets.TargetRefused as error:
        raise Problem.field("url", str(error)) from None
    made = await subscriptions.create(runtime=runtime, actor=actor, scope=scope, body=body)
    return _out(made.subscription, SubscriptionCreated, secret=made.secret)


@router.get("/subscriptions", response_model=SubscriptionList, summary="The caller's webhook subscriptions")
async def list_subscriptions(
    actor: CanRead, runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> SubscriptionList:
    total, rows = await subscriptions.list_visible(runtime=runtime, actor=actor, limit=limit, offset=offset)
    return SubscriptionList(total=total, subscriptions=[_out(row) for row in rows])


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut, summary="One subscription",
            responses=NOT_FOUND)
async def show(subscription_id: IdPath, actor: CanRead, runtime: RuntimeDep) -> SubscriptionOut:
    return _out(await subscriptions.show(runtime=runtime, actor=actor, subscription_id=subscription_id))


@router.post("/subscriptions/{subscription_id}/pause", response_model=SubscriptionOut,
             summary="Pause deliveries (events keep queueing and are sent on resumption)",
             responses={**NOT_FOUND, 409: {"description": "a disabled subscription cannot be paused"}})
async def pause(subscription_id: IdPath, actor: CanWrite, runtime: RuntimeDep) -> SubscriptionOut:
    return _out(await subscriptions.act(runtime=runtime, actor=actor, subscription_id=subscription_id, action="pause"))


@router.post("/subscriptions/{subscription_id}/resume", response_model=SubscriptionOut,
             summary="Resume a paused or disabled subscription; what is queued is sent in order",
             responses=NOT_FOUND)
async def resume(subscription_id: IdPath, actor: CanWrite, runtime: RuntimeDep) -> SubscriptionOut:
    return _out(await subscriptions.act(runtime=runtime, actor=actor, subscription_id=subscription_id, action="resume"))


@router.delete("/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a subscription; what is still queued for it is cancelled", responses=NOT_FOUND)
async def delete(subscription_id: IdPath, actor: CanWrite, runtime: RuntimeDep) -> Response:
    await subscriptions.delete(runtime=runtime, actor=actor, subscription_id=subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/subscriptions/{subscription_id}/secret", response_model=SecretRotated,
             summary="Rotate the signing secret; the old one keeps signing for the configured overlap",
             responses=NOT_FOUND)
async def rotate_secret(subscription_id: IdPath, actor: CanWrite, runtime: RuntimeDep) -> SecretRotated:
    rotated = await subscriptions.rotate_secret(runtime=runtime, actor=actor, subscription_id=subscription_id)
    return SecretRotated(subscription_id=subscription_id, secret=rotated.secret,
                         previous_secret_valid_until=rotated.previous_valid_until)


@router.get("/subscriptions/{subscription_id}/deliveries", response_model=DeliveryList,
            summary="The delivery log: every delivery, newest first, with every attempt (time, status, latency, "
                    "error)", responses=NOT_FOUND)
async def deliveries(
    subscription_id: IdPath, actor: CanRead, runtime: RuntimeDep,
    state: Annotated[str | None, Query(pattern="^(pending|delivered|failed|cancelled)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> DeliveryList:
    total, logged = await subscriptions.delivery_log(runtime=runtime, actor=actor, subscription_id=subscription_id,
                                                     state=state, limit=limit, offset=offset)
    return DeliveryList(total=total, deliveries=[_delivery_out(entry, attempts_in_round=entry.delivery.attempts)
                                                 for entry in logged])


def _attempt_out(attempt: DeliveryAttempt) -> AttemptOut:
    return AttemptOut(attempted_at=attempt.attempted_at, status_code=attempt.status_code, latency_ms=attempt.latency_ms,
                      success=attempt.success, error=attempt.error, response_excerpt=attempt.response_excerpt)


def _delivery_out(entry: subscriptions.LoggedDelivery, *, attempts_in_round: int) -> DeliveryOut:
    d = entry.delivery
    return DeliveryOut(delivery_id=d.delivery_id, event_id=d.event_id, event_type=entry.event_type,
                       stream_seq=d.stream_seq, state=d.state, attempts_in_round=attempts_in_round,
                       next_attempt_at=d.next_attempt_at if d.state == "pending" else None,
                       delivered_at=d.delivered_at, attempts=[_attempt_out(a) for a in entry.attempts])


@router.post("/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut,
             summary="Send one delivery again now (a new round of the retry schedule)",
             responses={404: {"description": "no such subscription or delivery of the caller's"}})
async def redeliver(subscription_id: IdPath, delivery_id: Annotated[str, Path(max_length=40)], actor: CanWrite,
                    runtime: RuntimeDep) -> DeliveryOut:
    entry = await subscriptions.redeliver(runtime=runtime, actor=actor, subscription_id=subscription_id,
                                          delivery_id=delivery_id)
    return _delivery_out(entry, attempts_in_round=0)


@router.post("/subscriptions/{subscription_id}/replay", response_model=ReplayOut,
             summary="Send again every event of a range of stream positions that the subscription matches",
             responses={**NOT_FOUND, 422: {"description": "the range is empty or reversed"}})
async def replay(subscription_id: IdPath, body: ReplayIn, actor: CanWrite, runtime: RuntimeDep) -> ReplayOut:
    if body.to_stream_seq is not None and body.to_stream_seq < body.from_stream_seq:
        raise Problem.field("to_stream_seq", "must not be before from_stream_seq")
    queued = await subscriptions.replay(runtime=runtime, actor=actor, subscription_id=subscription_id,
                                        from_seq=body.from_stream_seq, to_seq=body.to_stream_seq)
    return ReplayOut(subscription_id=subscription_id, queued=queued)
