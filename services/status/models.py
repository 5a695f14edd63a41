"""The status service's read model: every event it has seen, and one row per case."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.status.ledger.tables import ledger_tables
from shared.access_log import access_log_table
from shared.db import UtcDateTime
from shared.messaging.tables import messaging_tables
from shared.write_limit import write_rate_table


class Base(DeclarativeBase):
    pass


class LoggedEvent(Base):
    """The stream as this service received it, in stream order: timelines and audits read it."""

    __tablename__ = "events"

    stream_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                            autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    # Indexed: the agency registry is read from here by type (services/status/agency_regions.py).
    event_type: Mapped[str] = mapped_column(String(80), index=True)
    producer: Mapped[str] = mapped_column(String(40))
    producerseq: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    time: Mapped[str] = mapped_column(String(40))
    hash: Mapped[str] = mapped_column(String(64))
    prevhash: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_events_producer_seq", "producer", "producerseq", unique=True),)


class CaseRow(Base):
    __tablename__ = "case_status"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nip: Mapped[str] = mapped_column(String(18), index=True)
    election_code: Mapped[str] = mapped_column(String(40), index=True)
    agency_code: Mapped[str | None] = mapped_column(String(40), index=True)
    province: Mapped[str | None] = mapped_column(String(100))
    stage: Mapped[str] = mapped_column(String(40), index=True)
    state: Mapped[str] = mapped_column(Text)  # the CaseStatus as JSON
    last_stream_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # The funnel flags and the due date, kept from the state by services/status/stats.py so that the
    # figures and the PPK worklists are plain SQL over indexed columns.
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    proven: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    recommended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    followed_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    blocked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    unblocked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ever_blocked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    unblocked_after_followup: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    unblocked_by_hand: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    block_declined: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    due_date: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        Index("ix_case_status_province", "province"),
        Index("ix_case_status_agency_stage_due", "agency_code", "stage", "due_date"),
    )


class PersonnelBlock(Base):
    """The blocks the blocking service announced, active until lifted: the ASN status shows them."""

    __tablename__ = "personnel_blocks"

    block_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nip: Mapped[str] = mapped_column(String(18))
    case_id: Mapped[str | None] = mapped_column(String(40))
    agency_code: Mapped[str | None] = mapped_column(String(40))
    cause: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    lift_cause: Mapped[str | None] = mapped_column(String(20))
    lift_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_personnel_blocks_nip_active", "nip", "lifted_at"),)


messaging = messaging_tables(Base.metadata)
ledger = ledger_tables(Base.metadata)
# Who read which route, when and from where: status reads are most of SBT's traffic, so they are
# attributable like every other request (GET /v1/ops/access-log).
access_log = access_log_table(Base.metadata)
write_rate = write_rate_table(Base.metadata)
