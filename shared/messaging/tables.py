"""The messaging tables every service keeps in its own database, next to its own state.

``messaging_tables(Base.metadata)`` adds them to a service's metadata, so its Alembic migrations and
its domain tables live in one place and commit in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from shared.db import UtcDateTime

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    producer_head: Table
    relay_lease: Table
    inbox: Table
    consumer_position: Table
    dead_letters: Table


def messaging_tables(metadata: MetaData) -> MessagingTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", AutoId, primary_key=True, autoincrement=True),
        Column("event_id", String(40), nullable=False, unique=True),
        Column("event_type", String(80), nullable=False),
        Column("nats_subject", String(200), nullable=False),
        # The envelope as JSON; completed with producerseq/prevhash/hash when the relay chains it.
        Column("envelope", Text, nullable=False),
        Column("producerseq", BigInteger, nullable=True, unique=True),
        Column("created_at", UtcDateTime, nullable=False),
        Column("sent_at", UtcDateTime, nullable=True),
        Index("ix_outbox_unsent", "sent_at", "producerseq"),
    )
    producer_head = Table(
        "producer_head",
        metadata,
        Column("producer", String(40), primary_key=True),
        Column("producerseq", BigInteger, nullable=False),
        Column("hash", String(64), nullable=False),
    )
    relay_lease = Table(
        "relay_lease",
        metadata,
        Column("name", String(40), primary_key=True),
        Column("holder", String(80), nullable=False),
        Column("expires_at", UtcDateTime, nullable=False),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(40), primary_key=True),
        Column("event_id", String(40), primary_key=True),
        Column("stream_seq", BigInteger, nullable=False),
        Column("applied_at", UtcDateTime, nullable=False),
    )
    consumer_position = Table(
        "consumer_position",
        metadata,
        Column("consumer", String(40), primary_key=True),
        Column("stream_seq", BigInteger, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
    )
    dead_letters = Table(
        "dead_letters",
        metadata,
        Column("id", AutoId, primary_key=True, autoincrement=True),
        Column("consumer", String(40), nullable=False),
        Column("event_id", String(40), nullable=True),
        Column("event_type", String(80), nullable=True),
        Column("nats_subject", String(200), nullable=False),
        Column("stream_seq", BigInteger, nullable=False),
        Column("payload", Text, nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("replayed_at", UtcDateTime, nullable=True),
    )
    return MessagingTables(outbox, producer_head, relay_lease, inbox, consumer_position, dead_letters)
