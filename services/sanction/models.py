"""The sanction service's own tables (and nobody else's)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.access_log import access_log_table
from shared.db import UtcDateTime
from shared.messaging.tables import messaging_tables
from shared.write_limit import write_rate_table


class Base(DeclarativeBase):
    pass


class Followup(Base):
    """One PPK follow-up obligation per recommended case: its deadline and, once recorded, the decree."""

    __tablename__ = "followups"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nip: Mapped[str] = mapped_column(String(18), index=True)
    agency_code: Mapped[str | None] = mapped_column(String(40))
    recommendation_number: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(20))
    recommended_level: Mapped[str] = mapped_column(String(40))
    issued_on: Mapped[dt.date] = mapped_column(Date)  # the recommendation's day in Jakarta
    working_days: Mapped[int] = mapped_column(Integer)  # the deadline as first set

    state: Mapped[str] = mapped_column(String(20))
    # While suspended: the due date it had when suspended; the working days left decide the new one.
    due_date: Mapped[dt.date] = mapped_column(Date)
    suspended_on: Mapped[dt.date | None] = mapped_column(Date)
    suspended_days_left: Mapped[int | None] = mapped_column(Integer)
    warned_on: Mapped[dt.date | None] = mapped_column(Date)
    overdue_on: Mapped[dt.date | None] = mapped_column(Date)

    decree_number: Mapped[str | None] = mapped_column(String(100))
    decree_date: Mapped[dt.date | None] = mapped_column(Date)
    sanction_level: Mapped[str | None] = mapped_column(String(40))
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    effective_until: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    lighter_than_recommended: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by_agency: Mapped[str | None] = mapped_column(String(40))
    recorded_by_client: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        # The sweep reads running deadlines by due date; worklists read by agency and state.
        Index("ix_followups_state_due", "state", "due_date"),
        Index("ix_followups_agency_state", "agency_code", "state"),
    )


class Notice(Base):
    """A warning or overdue already announced: at most one of each kind per case and due date, whichever
    sweep (periodic, on demand, another replica) gets there first. The primary key is the guarantee."""

    __tablename__ = "notices"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    due_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    event_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class DeadlineChange(Base):
    """Every suspension, resumption and extension with its reason and who decided it (the audit trail
    behind the events)."""

    __tablename__ = "deadline_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    effective_on: Mapped[dt.date] = mapped_column(Date)
    working_days: Mapped[int | None] = mapped_column(Integer)
    due_date_before: Mapped[dt.date] = mapped_column(Date)
    due_date_after: Mapped[dt.date | None] = mapped_column(Date)
    decided_by_agency: Mapped[str] = mapped_column(String(40))
    decided_by_client: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Agency(Base):
    """Projection of ``agency.registered``: the PPK's title and name, shown in follow-up lists, and the
    province, which places the agency under a BKN regional office (services/sanction/agency_regions.py)."""

    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    ppk_title: Mapped[str] = mapped_column(String(200))
    ppk_name: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(80))


messaging = messaging_tables(Base.metadata)
# Who recorded which decree and who moved which deadline, per request (admins read GET /v1/ops/access-log).
access_log = access_log_table(Base.metadata)
write_rate = write_rate_table(Base.metadata)
