"""Intake's reference tables. Registered on intake's own ``Base`` so that its migrations own them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.intake.models import Base


class RosterEntry(Base):
    """One civil servant (about 4.7 million rows). Only the primary key is indexed: the one query is
    "who is this NIP", and every extra index would slow the bulk import."""

    __tablename__ = "roster"

    nip: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    agency_code: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(100))
    employment_type: Mapped[str] = mapped_column(String(4))  # "PNS" | "PPPK"


class Agency(Base):
    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(10))  # central | province | regency | city
    province: Mapped[str | None] = mapped_column(String(100))
    ppk_title: Mapped[str] = mapped_column(String(200))
    ppk_name: Mapped[str | None] = mapped_column(String(200))


class Election(Base):
    __tablename__ = "elections"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # pemilu | pilkada
    voting_date: Mapped[dt.date] = mapped_column(Date)
    regions: Mapped[list[str]] = mapped_column(JSON)
    # The oversight period: from the start of the election's stages to the end of its disputes. A report
    # of an incident outside it is not a case of this election (services/intake/reference/checks.py).
    oversight_from: Mapped[dt.date | None] = mapped_column(Date)
    oversight_until: Mapped[dt.date | None] = mapped_column(Date)


class ReferenceSeed(Base):
    """That a shipped seed (deploy/seed/) was loaded into this database: ``sbt run`` loads it on the first
    start only, so that what an operator imports afterwards is never overwritten by the seed again."""

    __tablename__ = "reference_seeds"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Violation(Base):
    __tablename__ = "violations"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    category: Mapped[str] = mapped_column(String(12))  # ethics | discipline
    description: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(300))
    default_sanction: Mapped[str] = mapped_column(String(30))
