"""The recommendation service's own tables: its projection of the cases (learnt from intake's events),
the decisions it took on them, the violation catalogue, and the yearly recommendation serials."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.access_log import access_log_table
from shared.db import UtcDateTime
from shared.messaging.tables import messaging_tables
from shared.write_limit import write_rate_table


class Base(DeclarativeBase):
    pass


class Case(Base):
    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nip: Mapped[str] = mapped_column(String(18), index=True)
    election_code: Mapped[str] = mapped_column(String(40))
    agency_code: Mapped[str | None] = mapped_column(String(40))
    province: Mapped[str | None] = mapped_column(String(100))
    violation_codes: Mapped[list[str]] = mapped_column(JSON)
    report_count: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    verification_due: Mapped[dt.date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(30))

    verification_outcome: Mapped[str | None] = mapped_column(String(20))
    verification_reason: Mapped[str | None] = mapped_column(Text)
    verified_by_agency: Mapped[str | None] = mapped_column(String(40))
    verified_by_client: Mapped[str | None] = mapped_column(String(100))
    verified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    # The reported civil servant's clarification, recorded before a finding (presumption of innocence):
    # "given" (with its summary) or "declined"; a case is not examined as proven without one.
    clarification_outcome: Mapped[str | None] = mapped_column(String(20))
    clarified_on: Mapped[dt.date | None] = mapped_column(Date)
    clarification_summary: Mapped[str | None] = mapped_column(Text)
    clarification_recorded_by: Mapped[str | None] = mapped_column(String(100))
    clarification_recorded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    examination_outcome: Mapped[str | None] = mapped_column(String(20))
    examination_reason: Mapped[str | None] = mapped_column(Text)
    examining_authority: Mapped[str | None] = mapped_column(String(40))
    examined_by_client: Mapped[str | None] = mapped_column(String(100))
    examined_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    category: Mapped[str | None] = mapped_column(String(20))
    sanction_level: Mapped[str | None] = mapped_column(String(40))
    legal_basis: Mapped[str | None] = mapped_column(String(300))
    recommendation_number: Mapped[str | None] = mapped_column(String(40), unique=True)

    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    # The worklists page through one stage in case-id order (ULIDs: oldest first).
    __table_args__ = (Index("ix_cases_stage_case", "stage", "case_id"),)


class Violation(Base):
    """The violation catalogue, as intake publishes it."""

    __tablename__ = "violations"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    category: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(300))
    default_sanction: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class RecommendationSerial(Base):
    """The last recommendation serial issued in a year. It is incremented in the examination's own
    transaction, so numbers are unique and without gaps (a rolled-back examination takes its serial back)."""

    __tablename__ = "recommendation_serials"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


messaging = messaging_tables(Base.metadata)
access_log = access_log_table(Base.metadata)
write_rate = write_rate_table(Base.metadata)
