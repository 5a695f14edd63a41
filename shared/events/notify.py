"""Events published by the notify service: what happened to a subscriber's webhook."""

from __future__ import annotations

import datetime as dt

from shared.events.base import EventData


class SubscriptionDisabled(EventData):
    """A webhook subscription was disabled because its endpoint kept failing; its owner must fix the
    endpoint and resume it. The CloudEvents subject is ``subscription:<id>``."""

    event_type = "sbt.subscription.disabled.v1"
    producer = "notify"

    subscription_id: str
    owner_client_id: str
    owner_agency: str
    # The agency whose civil servants the subscription covers; None for a national subscription.
    agency_code: str | None = None
    target_url: str
    reason: str
    failing_since: dt.datetime
    disabled_at: dt.datetime

    examples = [{"subscription_id": "01JD000000000000000000000S", "owner_client_id": "pemprov-jabar-system",
                 "owner_agency": "PEMPROV-JABAR", "agency_code": "PEMPROV-JABAR",
                 "target_url": "https://sistem.jabarprov.go.id/sbt/webhook",
                 "reason": "every delivery failed for 5 days (last: HTTP 503)",
                 "failing_since": "2024-11-01T00:00:00Z", "disabled_at": "2024-11-06T00:00:00Z"}]
