"""The notify service's own tables: webhook subscriptions and their deliveries, NATS feed subscribers, the
events it fans out (kept, so a delivery or a replay sends the original signed envelope), and the facts of
each case it needs to route them (agency, election, province)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.access_log import access_log_table
from shared.db import UtcDateTime
from shared.messaging.tables import messaging_tables
from shared.write_limit import write_rate_table

# SQLite's autoincrement needs INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Subscription(Base):
    """One webhook: where to send which events, whose they are, and the secret that signs them."""

    __tablename__ = "subscriptions"

    subscription_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_client_id: Mapped[str] = mapped_column(String(100), index=True)
    owner_agency: Mapped[str] = mapped_column(String(40))
    # Whose civil servants it covers, fixed at subscribe time from the caller's scope: one agency (a PPK),
    # the agencies of a BKN regional office's region (its code), both for a token holding both roles, or
    # neither for every agency (handlers.scope_of_subscription).
    scope_agency: Mapped[str | None] = mapped_column(String(40))
    scope_office: Mapped[str | None] = mapped_column(String(8))
    # The owner's roles when it subscribed: which event types it may receive (domain.may_receive).
    roles: Mapped[list[str]] = mapped_column(JSON)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(200))
    # Empty lists: no filter on that dimension.
    event_types: Mapped[list[str]] = mapped_column(JSON)
    election_codes: Mapped[list[str]] = mapped_column(JSON)
    provinces: Mapped[list[str]] = mapped_column(JSON)
    agency_codes: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20))  # active | paused | disabled | deleted
    # Sealed under the master key (shared/crypto.py): HMAC signing needs the secret itself, not a hash.
    secret_sealed: Mapped[str] = mapped_column(Text)
    previous_secret_sealed: Mapped[str | None] = mapped_column(Text)
    previous_valid_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Set at the first failure after a success, cleared by a success: how long the endpoint has failed.
    failing_since: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class StoredEvent(Base):
    """Every event notify consumed, as it arrived (the producer-signed envelope), with its routing facts."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    stream_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    event_type: Mapped[str] = mapped_column(String(80))
    # The CloudEvents subject (a case id, ``agency:<code>`` ...): deliveries keep order per subject.
    subject: Mapped[str] = mapped_column(String(100))
    agency_code: Mapped[str | None] = mapped_column(String(40))
    election_code: Mapped[str | None] = mapped_column(String(40))
    province: Mapped[str | None] = mapped_column(String(80))
    envelope: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class CaseFacts(Base):
    """What notify knows of a case from intake's events: enough to route its later events."""

    __tablename__ = "case_facts"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agency_code: Mapped[str | None] = mapped_column(String(40))
    election_code: Mapped[str | None] = mapped_column(String(40))
    province: Mapped[str | None] = mapped_column(String(80))


class Delivery(Base):
    """One event for one subscription: sent until a 2xx, on the retry schedule, in order per subject."""

    __tablename__ = "deliveries"

    delivery_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(40))
    stream_seq: Mapped[int] = mapped_column(BigInteger)
    order_key: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))  # pending | delivered | failed | cancelled
    # Attempts of the current round (a redelivery by hand or a replay starts a new round).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # A sender's hold on the delivery while its request is in flight: another process (or the same one
    # after a restart) takes it again only once the hold has run out.
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_event"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_order", "subscription_id", "order_key", "stream_seq"),
    )


class DeliveryAttempt(Base):
    """Every attempt of a delivery: when, the answer's status (or the error), how long it took."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(40), index=True)
    subscription_id: Mapped[str] = mapped_column(String(40), index=True)
    attempted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    success: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    # At most a short excerpt of the answer's body: a receiver's answers are not notify's to keep.
    response_excerpt: Mapped[str | None] = mapped_column(String(200))


class FeedSubscriber(Base):
    """A NATS login of an agency system that reads its own feed through its own durable consumer."""

    __tablename__ = "feed_subscribers"

    user: Mapped[str] = mapped_column(String(60), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(40), index=True)
    # The authz role the feed is read under (shared/authz.py decides whose civil servants it covers).
    role: Mapped[str] = mapped_column(String(20))
    # The feed it reads: the agency's own (sbt.feeds.<agency>.>) or the national one.
    feed: Mapped[str] = mapped_column(String(40))
    consumer: Mapped[str] = mapped_column(String(60), unique=True)
    # bcrypt, the only form nats-server's configuration holds.
    password_hash: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class FeedOutbox(Base):
    """An event to republish, unchanged, on one feed's subjects: staged in the consumer's transaction and
    sent by the feed relay (Nats-Msg-Id = feed and event, so a re-send is dropped by JetStream)."""

    __tablename__ = "feed_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(40))
    nats_subject: Mapped[str] = mapped_column(String(240))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Where the message landed in SBT_FEEDS (its acknowledgement's sequence), so that it can be erased.
    feed_seq: Mapped[int | None] = mapped_column(BigInteger)
    # Set when the event's case was retired after the message went out: the relay deletes the message from
    # the feed stream, then this row (services/notify/retirement.py).
    erase_requested_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)

    __table_args__ = (
        UniqueConstraint("feed", "event_id", name="uq_feed_outbox_feed_event"),
        Index("ix_feed_outbox_unsent", "sent_at", "id"),
    )


messaging = messaging_tables(Base.metadata)
access_log = access_log_table(Base.metadata)
write_rate = write_rate_table(Base.metadata)
