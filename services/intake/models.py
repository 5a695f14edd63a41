"""Intake's own tables (and nobody else's)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.access_log import access_log_table
from shared.db import UtcDateTime
from shared.messaging.tables import messaging_tables
from shared.write_limit import write_rate_table


class Base(DeclarativeBase):
    pass


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nip: Mapped[str] = mapped_column(String(18), index=True)
    election_code: Mapped[str] = mapped_column(String(40))
    agency_code: Mapped[str | None] = mapped_column(String(40))
    province: Mapped[str | None] = mapped_column(String(100))
    # "<nip>:<election>" while the case is open, NULL once closed: the unique index makes
    # "one open case per civil servant and election" hold even under concurrent reports.
    open_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    complaint_ref: Mapped[str] = mapped_column(String(64), unique=True)
    nip: Mapped[str] = mapped_column(String(18), index=True)
    agency_code: Mapped[str | None] = mapped_column(String(40))
    election_code: Mapped[str] = mapped_column(String(40))
    violation_codes: Mapped[list[str]] = mapped_column(JSON)
    incident_date: Mapped[dt.date] = mapped_column(Date)
    incident_place: Mapped[str] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    evidence_urls: Mapped[list[str]] = mapped_column(JSON)
    reporter_category: Mapped[str] = mapped_column(String(20))
    # The reporter's name and contact, sealed under a data key of this report only (shared/crypto.py);
    # never stored or published in clear, shown only to roles that need it. The wrapped data key is kept
    # apart, in ReporterIdentityKey; erasure deletes it and this sealed value.
    reporter_identity_sealed: Mapped[str | None] = mapped_column(Text)
    reporter_identity_erased_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    submitted_by_client: Mapped[str] = mapped_column(String(100))
    submitted_by_agency: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # The hash a signed receipt names (shared/receipts.py): what the holder of the receipt filed.
    filed_sha256: Mapped[str | None] = mapped_column(String(64))
    # When the retention sweep removed the evidence links (services/intake/retention.py).
    evidence_removed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ReporterIdentityKey(Base):
    """The wrapped data key of a report's sealed identity: the only thing that opens it, and nothing else.

    A table of its own so that erasure is a DELETE of the whole row, never an UPDATE that leaves the old
    version behind, and so that what erasure then scrubs (services/intake/erasure.py) is this small table
    alone. The key never leaves intake: no event, export or other service carries it.
    """

    __tablename__ = "reporter_identity_keys"

    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    wrapped_key: Mapped[str] = mapped_column(String(200))


class IdempotencyRecord(Base):
    """The answer given to a request with an ``Idempotency-Key``, so a retry gets the same answer."""

    __tablename__ = "idempotency_keys"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class PublicCaseStage(Base):
    """The stage of each case, folded from the case events with the shared ``apply``, so that the public
    complaint check ("Cek Status Laporan") is answered here, from intake's own tables: a complaint number
    leads to its report (``reports.complaint_ref``), the report to its case, the case to this stage."""

    __tablename__ = "public_case_stage"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    stage: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(Text)  # the CaseStatus as JSON
    last_stream_seq: Mapped[int] = mapped_column(BigInteger)


class ArchivedCase(Base):
    """A case that a signed, verified archive of its election holds (``sbt archive``): only such a case may be
    retired at the end of its retention period. One row per case, naming the archive's SHA-256; a later
    archive of the same election names itself here for the cases it holds."""

    __tablename__ = "archived_cases"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    election_code: Mapped[str] = mapped_column(String(40), index=True)
    archive_sha256: Mapped[str] = mapped_column(String(64))
    archived_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ElectionArchive(Base):
    """Each archive made of an election: its hash, what it holds, and who recorded it."""

    __tablename__ = "election_archives"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    election_code: Mapped[str] = mapped_column(String(40), index=True)
    cases: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


messaging = messaging_tables(Base.metadata)
access_log = access_log_table(Base.metadata)
write_rate = write_rate_table(Base.metadata)

# Registers the reference tables (roster, agencies, elections, violations) on this Base; imported last
# because they subclass it.
from services.intake.reference import models as _reference_models  # noqa: E402, F401
