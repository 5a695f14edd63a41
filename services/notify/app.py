"""The notify service (port 8007): every event fanned out to the agencies' systems that subscribe to it,
by signed webhooks (Standard Webhooks) and by scoped NATS feeds, exactly once per subscriber in effect and
in order per case."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.notify import api, handlers
from services.notify.dispatch import Dispatcher
from services.notify.feeds import FeedRelay
from services.notify.models import Base, StoredEvent, messaging
from shared import agency_regions
from shared.service import Runtime, ServiceSpec, create_service_app
from services.notify.settings import NotifySettings, get_settings


async def background(runtime: Runtime) -> None:
    """The webhook dispatcher and the feed relay, both woken whenever the consumer commits a batch."""
    dispatcher, feeds = Dispatcher(runtime), FeedRelay(runtime)
    runtime.extensions["dispatcher"] = dispatcher
    if runtime.consumer is not None:
        previous = runtime.consumer.after_commit

        def after_commit() -> None:
            if previous is not None:
                previous()
            dispatcher.wake()
            feeds.wake()

        runtime.consumer.after_commit = after_commit
    # A regional office's webhooks and feed follow the agencies registered in its provinces after the seed,
    # read from notify's own log of events (shared.agency_regions), as the status and sanction services do.
    regions = agency_regions.follow(agency_regions.log_reader(runtime.sessions, StoredEvent))
    try:
        await asyncio.gather(dispatcher.run(), feeds.run(), regions)
    finally:
        dispatcher.stop()


SPEC = ServiceSpec(
    name="notify",
    title="SBT notify",
    description="Event subscribers: agencies' systems receive the events about their own civil servants (or, "
    "for national agencies, what their role allows) as signed webhooks (Standard Webhooks: webhook-id, "
    "webhook-timestamp, webhook-signature; retried on a schedule, with a delivery log) or on a scoped NATS "
    "feed. Each delivery carries the producer-signed CloudEvents envelope unchanged, so a subscriber can "
    "check every signature itself.",
    metadata=Base.metadata,
    messaging=messaging,
    routers=[api.router],
    handlers=handlers.handlers,
    background=background,
)


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(SPEC, settings)
