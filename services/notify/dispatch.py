"""The webhook dispatcher: sends due deliveries, records every attempt, and schedules the next one.

The schedule is in the database (``deliveries.next_attempt_at``), never only in memory: a notify process
killed at any moment leaves every delivery pending, and it (or another replica) takes it up again once the
dead process's hold (``lease_until``) has run out. A delivery is sent only when it is the oldest pending
one of its subscription and subject (order per case); a 2xx within SBT_WEBHOOK_TIMEOUT_SECONDS is a
success, anything else a failure tried again on SBT_WEBHOOK_RETRY_SCHEDULE. ``webhook-id`` is the event's
id, the same on every attempt, so a receiver that sees one twice (a process killed after the receiver
answered and before the answer was recorded) applies it once.

An endpoint that has failed for SBT_WEBHOOK_DISABLE_AFTER_SECONDS in a row is disabled, and
``sbt.subscription.disabled.v1`` is staged in the same transaction, through notify's own outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.notify import domain, signing, targets
from services.notify.models import Delivery, DeliveryAttempt, StoredEvent, Subscription
from shared import metrics
from shared.crypto import Keyring
from shared.events.notify import SubscriptionDisabled
from shared.service import Runtime

log = logging.getLogger("sbt.notify.dispatch")

EXCERPT_CHARS = 200
# How much longer than the request's own timeout a sender holds a delivery.
LEASE_MARGIN_SECONDS = 5.0
CONTENT_TYPE = "application/cloudevents+json"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: float
    error: str | None
    excerpt: str | None

    @property
    def success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and self.error is None


class Dispatcher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.keyring = Keyring.from_settings(runtime.settings)
        self.allow = targets.AllowList.parse(runtime.settings.webhook_allow_hosts)
        self.schedule = runtime.settings.webhook_retry_delays
        self._wake = asyncio.Event()
        self._stopped = False
        self._clients: dict[str, httpx.AsyncClient] = {}

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def client_for(self, host: str) -> httpx.AsyncClient:
        """One client (and connection pool) per target host: connections go to checked addresses, and one
        verified for one host's TLS name must never carry another host's deliveries."""
        client = self._clients.get(host)
        if client is None:
            client = self._clients[host] = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return client

    async def run(self) -> None:
        try:
            while not self._stopped:
                try:
                    claimed = await self.claim()
                except Exception:  # noqa: BLE001 - the database may be restarting; try again soon
                    log.exception("notify: claiming due deliveries failed")
                    claimed = []
                if claimed:
                    await asyncio.gather(*(self.deliver(delivery_id) for delivery_id in claimed))
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.webhook_poll_seconds)
        finally:
            for client in self._clients.values():
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def claim(self) -> list[str]:
        """Take hold of the due deliveries that head their subscription's queue for their subject."""
        now = self.runtime.clock.now()
        earlier = aliased(Delivery)
        blocked_by_earlier = exists().where(
            earlier.subscription_id == Delivery.subscription_id, earlier.order_key == Delivery.order_key,
            earlier.state == "pending", earlier.stream_seq < Delivery.stream_seq,
        )
        query = (
            select(Delivery.delivery_id)
            .join(Subscription, Subscription.subscription_id == Delivery.subscription_id)
            .where(Delivery.state == "pending", Delivery.next_attempt_at <= now,
                   or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
                   Subscription.state == domain.ACTIVE, ~blocked_by_earlier)
            .order_by(Delivery.stream_seq)
            .limit(self.settings.webhook_concurrency)
        )
        hold = now + dt.timedelta(seconds=self.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)
        claimed = []
        async with self.runtime.sessions.begin() as session:
            for delivery_id in (await session.scalars(query)).all():
                # Only if no other sender took it since the query: the row decides, not the query.
                result = await session.execute(
                    update(Delivery)
                    .where(Delivery.delivery_id == delivery_id, Delivery.state == "pending",
                           or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))
                    .values(lease_until=hold)
                )
                if result.rowcount == 1:
                    claimed.append(delivery_id)
        return claimed

    async def deliver(self, delivery_id: str) -> None:
        try:
            async with self.runtime.sessions() as session:
                delivery = await session.get(Delivery, delivery_id)
                if delivery is None:
                    return  # removed meanwhile (its case was retired): nothing is left to send
                subscription = await session.get(Subscription, delivery.subscription_id)
                event = await session.get(StoredEvent, delivery.event_id)
            if subscription is None or event is None:
                return
            at = self.runtime.clock.now()
            outcome = await self.send(subscription, event, at)
            await self.record(delivery_id, outcome, at)
        except Exception:  # noqa: BLE001 - the hold runs out and the delivery is taken up again
            log.exception("notify: delivery %s could not be completed", delivery_id)

    def secrets_in_force(self, subscription: Subscription, at: dt.datetime) -> list[str]:
        found = [signing.open_secret(self.keyring, subscription.subscription_id, subscription.secret_sealed)]
        if (subscription.previous_secret_sealed and subscription.previous_valid_until is not None
                and at < subscription.previous_valid_until):
            found.append(signing.open_secret(self.keyring, subscription.subscription_id,
                                             subscription.previous_secret_sealed))
        return found

    async def send(self, subscription: Subscription, event: StoredEvent, at: dt.datetime) -> Outcome:
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 1)

        try:
            resolved = await targets.check(subscription.url, production=self.settings.env == "production",
                                           allow=self.allow)
        except targets.TargetRefused as error:
            metrics.WEBHOOK_ATTEMPTS.labels("refused").inc()
            return Outcome(None, elapsed(), f"target refused: {error}", None)
        client = self.client_for(resolved.target.host)
        headers = {
            **signing.headers(event.event_id, event.envelope, self.secrets_in_force(subscription, at), at),
            "content-type": CONTENT_TYPE,
            "host": resolved.host_header,
            "user-agent": "sbt-notify",
        }
        extensions = {"sni_hostname": resolved.target.host} if resolved.target.scheme == "https" else {}
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                request = client.build_request("POST", resolved.url, content=event.envelope.encode(),
                                               headers=headers, extensions=extensions)
                response = await client.send(request, stream=True)
                try:
                    excerpt = await _excerpt(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            return Outcome(None, elapsed(), f"no answer within {self.settings.webhook_timeout_seconds:g} s", None)
        except httpx.HTTPError as error:
            return Outcome(None, elapsed(), f"{type(error).__name__}: {error}"[:500], None)
        error = None
        if 300 <= response.status_code < 400:
            error = f"redirect to {response.headers.get('location', '?')[:200]} not followed"
        elif not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}"
        return Outcome(response.status_code, elapsed(), error, excerpt)

    async def record(self, delivery_id: str, outcome: Outcome, at: dt.datetime) -> None:
        now = self.runtime.clock.now()
        async with self.runtime.transaction() as session:
            delivery = await session.get(Delivery, delivery_id, with_for_update=True)
            subscription = await session.get(Subscription, delivery.subscription_id, with_for_update=True)
            session.add(DeliveryAttempt(
                delivery_id=delivery_id, subscription_id=delivery.subscription_id, attempted_at=at,
                status_code=outcome.status_code, latency_ms=outcome.latency_ms, success=outcome.success,
                error=outcome.error, response_excerpt=outcome.excerpt,
            ))
            delivery.lease_until = None
            if delivery.state != "pending":  # cancelled (its subscription deleted) while the request was out
                return
            delivery.attempts += 1
            delivery.last_status, delivery.last_error = outcome.status_code, outcome.error
            metrics.WEBHOOK_LATENCY.observe(outcome.latency_ms / 1000)
            if outcome.error is None or not outcome.error.startswith("target refused"):
                metrics.WEBHOOK_ATTEMPTS.labels("delivered" if outcome.success else "failed").inc()
            if outcome.success:
                delivery.state, delivery.delivered_at = "delivered", now
                subscription.failing_since = None
                return
            retry_at = domain.next_attempt(now, delivery.attempts, self.schedule, self.settings.webhook_jitter)
            if retry_at is None:
                delivery.state = "failed"
            else:
                delivery.next_attempt_at = retry_at
            if subscription.failing_since is None:
                subscription.failing_since = at
            elif (subscription.state == domain.ACTIVE and domain.should_disable(
                    subscription.failing_since, now, self.settings.webhook_disable_after_seconds)):
                await self.disable(session, subscription, outcome, now)

    async def disable(self, session: AsyncSession, subscription: Subscription, outcome: Outcome,
                      now: dt.datetime) -> None:
        days = self.settings.webhook_disable_after_seconds / 86400
        span = f"{days:g} days" if days >= 1 else f"{self.settings.webhook_disable_after_seconds:g} s"
        reason = f"every delivery failed for {span} (last: {outcome.error})"
        subscription.state, subscription.disabled_reason, subscription.updated_at = domain.DISABLED, reason, now
        await self.runtime.outbox.stage(session, SubscriptionDisabled(
            subscription_id=subscription.subscription_id, owner_client_id=subscription.owner_client_id,
            owner_agency=subscription.owner_agency, agency_code=subscription.scope_agency,
            target_url=subscription.url, reason=reason, failing_since=subscription.failing_since,
            disabled_at=now,
        ), subject=f"subscription:{subscription.subscription_id}")
        metrics.SUBSCRIPTIONS_DISABLED.inc()
        log.warning("notify: subscription %s disabled: %s", subscription.subscription_id, reason)


async def _excerpt(response: httpx.Response) -> str | None:
    """At most the first EXCERPT_CHARS of the answer; the rest is neither read into memory nor kept."""
    taken = b""
    async for chunk in response.aiter_raw():
        taken += chunk
        if len(taken) >= EXCERPT_CHARS * 4:
            break
    text = taken.decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    return text or None

