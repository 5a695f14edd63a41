"""The notify service's request and response bodies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Code = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_\-]{0,39}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^sbt\.[a-z_.]+\.v[0-9]+$", max_length=80)]
Province = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
State = Literal["active", "paused", "disabled", "deleted"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubscriptionIn(Strict):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000)] = Field(
        description="Where to POST each event: https in production; private, loopback and link-local "
                    "addresses are refused unless listed in SBT_WEBHOOK_ALLOW_HOSTS.")
    event_types: list[EventType] = Field(default=[], max_length=100,
                                         description="Only these event types; empty: every type.")
    election_codes: list[Code] = Field(default=[], max_length=100, description="Only these elections; empty: any.")
    provinces: list[Province] = Field(default=[], max_length=100, description="Only these provinces; empty: any.")
    agency_codes: list[Code] = Field(default=[], max_length=1000,
                                     description="Only these agencies' civil servants, within the caller's scope; "
                                                 "empty: every agency the caller's scope covers.")
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class SubscriptionOut(BaseModel):
    subscription_id: str
    url: str
    description: str | None
    state: State
    event_types: list[str]
    election_codes: list[str]
    provinces: list[str]
    agency_codes: list[str]
    scope_agency: str | None = Field(description="The one agency whose civil servants it covers (a PPK's); null "
                                     "with a null scope_office: every agency.")
    scope_office: str | None = Field(default=None, description="The BKN regional office whose region's agencies "
                                                               "it covers (a Kanreg's).")
    owner_client_id: str
    owner_agency: str
    failing_since: dt.datetime | None
    disabled_reason: str | None
    previous_secret_valid_until: dt.datetime | None = Field(
        description="Until when the secret before the last rotation still signs deliveries.")
    created_at: dt.datetime
    updated_at: dt.datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="The signing secret (Standard Webhooks, whsec_...): shown only now.")


class SubscriptionList(BaseModel):
    total: int
    subscriptions: list[SubscriptionOut]


class SecretRotated(BaseModel):
    subscription_id: str
    secret: str = Field(description="The new signing secret: shown only now.")
    previous_secret_valid_until: dt.datetime = Field(
        description="Both secrets sign every delivery until then (SBT_WEBHOOK_SECRET_OVERLAP_SECONDS).")


class AttemptOut(BaseModel):
    attempted_at: dt.datetime
    status_code: int | None
    latency_ms: float
    success: bool
    error: str | None
    response_excerpt: str | None = Field(description="At most the first 200 characters of the answer.")


class DeliveryOut(BaseModel):
    delivery_id: str
    event_id: str
    event_type: str
    stream_seq: int
    state: Literal["pending", "delivered", "failed", "cancelled"]
    attempts_in_round: int
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    attempts: list[AttemptOut]


class DeliveryList(BaseModel):
    total: int
    deliveries: list[DeliveryOut]


class ReplayIn(Strict):
    from_stream_seq: int = Field(ge=1, le=2**62, description="The first stream position to send again.")
    to_stream_seq: int | None = Field(default=None, ge=1, le=2**62,
                                      description="The last one (inclusive); none: up to the newest.")


class ReplayOut(BaseModel):
    subscription_id: str
    queued: int = Field(description="Deliveries queued (new, or sent again) for events in the range.")
