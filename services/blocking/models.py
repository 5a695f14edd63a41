"""The blocking service's own tables: blocks, the deadline facts it learns from sanction's events, and
escalations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.access_log import access_log_table
from shared.db import UtcDateTime
from shared.messaging.tables import messaging_tables
from shared.write_limit import write_rate_table


class Base(DeclarativeBase):
    pass


class Block(Base):
    """One block of a civil servant's personnel data, active until ``lifted_at`` is set."""

    __tablename__ = "blocks"

    block_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nip: Mapped[str] = mapped_column(String(18))
    case_id: Mapped[str | None] = mapped_column(String(40), index=True)
    agency_code: Mapped[str | None] = mapped_column(String(40))
    cause: Mapped[str] = mapped_column(String(20))  # overdue | manual
    reason: Mapped[str] = mapped_column(Text)
    blocked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    blocked_by: Mapped[str] = mapped_column(String(100))
    # "case:<id>" (or "nip:<NIP>" for a manual block without a case) while active, NULL once lifted: the
    # unique index keeps one active block per case, even when an overdue event and a manual block race.
    active_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    lift_cause: Mapped[str | None] = mapped_column(String(20))  # followup | manual
    lift_reason: Mapped[str | None] = mapped_column(Text)
    lifted_by: Mapped[str | None] = mapped_column(String(100))

    # The personnel systems' question "is this NIP blocked?" is one range scan of this index.
    __table_args__ = (Index("ix_blocks_nip_active", "nip", "lifted_at"),)


class WatchedCase(Base):
    """What blocking knows of a case's follow-up from sanction's events: enough to count overdue cases."""

    __tablename__ = "watched_cases"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nip: Mapped[str] = mapped_column(String(18))
    agency_code: Mapped[str | None] = mapped_column(String(40))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    followed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Under SBT_BLOCKING_POLICY=decision: overdue, not blocked, and BKN has not decided on this due date yet
    # (the blockers' worklist). The last decision on the case, whoever took it and why.
    awaiting_decision: Mapped[bool] = mapped_column(Boolean, default=False)
    decision: Mapped[str | None] = mapped_column(String(20))  # blocked | declined | time_granted
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_watched_cases_agency_overdue", "agency_code", "overdue"),
                      Index("ix_watched_cases_awaiting_decision", "awaiting_decision", "due_date"))


class AgencyWatch(Base):
    """Whether an agency stands escalated: set when it crosses the threshold, cleared when it drops below,
    so that one crossing raises one escalation. Its row is also the lock that serialises the count."""

    __tablename__ = "agency_watch"

    agency_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_cases: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Escalation(Base):
    __tablename__ = "escalations"

    escalation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(40), index=True)
    overdue_case_ids: Mapped[list[str]] = mapped_column(JSON)
    threshold: Mapped[int] = mapped_column(Integer)
    raised_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


messaging = messaging_tables(Base.metadata)
access_log = access_log_table(Base.metadata)
write_rate = write_rate_table(Base.metadata)
