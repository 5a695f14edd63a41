"""Intake's request and response bodies: strict, bounded, and documented in the OpenAPI."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, StringConstraints

from shared import nip as nip_rules
from shared.receipts import Receipt
from shared.status_model import Stage
from shared.strict_types import IsoDate


def _valid_nip(value: str) -> str:
    try:
        return nip_rules.parse(value).value
    except nip_rules.InvalidNip as error:
        raise ValueError(error.reason) from None


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refused here, naming the field, on every database alike.
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


NipText = Annotated[str, StringConstraints(max_length=40), AfterValidator(_valid_nip)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_\-]{0,39}$")]
ElectionCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]+-[0-9]{4}$", max_length=40)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reporter(Strict):
    category: Literal["bawaslu", "satgas", "public"] = Field(
        description="Who reports: Bawaslu (temuan), a task-force agency, or a member of the public."
    )
    name: ShortText | None = Field(default=None, description="Kept confidential; never published.")
    contact: ShortText | None = Field(default=None, description="Kept confidential; never published.")


class ReportIn(Strict):
    nip: NipText = Field(description="18-digit NIP of the civil servant reported; spaces are allowed.",
                         examples=["19860926 201505 1 001"])
    agency_code: Code | None = Field(default=None, description="The civil servant's agency (instansi), when known.")
    election_code: ElectionCode = Field(examples=["PILKADA-2024"])
    violation_codes: list[Code] = Field(min_length=1, max_length=20, examples=[["ETIK-MEDSOS"]])
    incident_date: IsoDate = Field(
        description="YYYY-MM-DD. Within the election's oversight period and not in the future (checked against "
        "the reference data when the report is filed).", examples=["2024-10-14"])
    incident_place: ShortText
    province: ShortText | None = None
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000),
                           AfterValidator(_no_nul)]
    evidence_urls: list[HttpUrl] = Field(default_factory=list, max_length=20)
    reporter: Reporter


class ReportAccepted(BaseModel):
    report_id: str
    case_id: str
    complaint_number: str = Field(description="Give this to the reporter: it is the only way to check progress.")
    case_opened: bool = Field(description="True when this report opened a new case.")
    receipt: Receipt | None = Field(default=None, description="Signed by intake: the complaint number, the time and "
                                    "the hash of what was filed; `sbt verify-receipt` checks it offline. Absent "
                                    "only in an answer replayed from before receipts existed.")


class PublicReporter(Reporter):
    category: Literal["public"] = Field(default="public", description="Always public on the public form.")


def _blank_is_missing(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class PublicReportIn(ReportIn):
    """The public report form: the same report, the reporter's category forced to ``public``."""

    # Optional here only so that a report without one gets its own answer: a pointer to SP4N-LAPOR!, where
    # reports that cannot name the civil servant belong (services/intake/public.py).
    nip: Annotated[NipText | None, BeforeValidator(_blank_is_missing)] = Field(
        default=None, description="18-digit NIP of the civil servant reported. Required: without it the answer "
        "is 422 with `lapor_url`, the national complaints service (SP4N-LAPOR!) where such reports belong.",
        examples=["19860926 201505 1 001"])
    reporter: PublicReporter = Field(default_factory=PublicReporter)


class ComplaintStage(BaseModel):
    stage: Stage = Field(description="Where the case stands; nothing else about it is public.")
    receipt: ReceiptConfirmed | None = Field(
        default=None, description="With `?receipt=`: the receipt is intake's and matches the report filed under "
        "this number (so its holder filed it, then, with this content).")


class PublicReportAccepted(BaseModel):
    complaint_number: str = Field(description="Keep it: the only way to check progress (Cek Status Laporan).")
    receipt: Receipt = Field(description="Keep it too: signed by intake, it proves the report was filed, when, "
                             "and what it said (its hash), even to someone who doubts it; `sbt verify-receipt` "
                             "checks it offline, and the complaint check accepts it (`?receipt=`).")


class ReceiptConfirmed(BaseModel):
    verified: Literal[True] = True
    received_at: str
    filed_sha256: str


class ReporterIdentity(BaseModel):
    name: str | None = None
    contact: str | None = None


class ReportView(BaseModel):
    report_id: str
    case_id: str
    nip: str
    agency_code: str | None
    election_code: str
    violation_codes: list[str]
    incident_date: dt.date
    incident_place: str
    province: str | None
    description: str
    evidence_urls: list[str]
    reporter_category: str
    submitted_by_agency: str
    received_at: dt.datetime
    reporter_identity: Literal["shown", "withheld", "erased", "none"] = Field(
        description="shown: in `reporter`; withheld: the caller's roles may not see it; erased: its key was "
        "destroyed; none: the reporter gave no name or contact."
    )
    reporter: ReporterIdentity | None = None


# --- retention ----------------------------------------------------------------------------------------------

class RetentionSweepIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    as_of: Annotated[IsoDate, Field(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31))] | None = Field(
        default=None, description="Sweep as if it were this day; default today in Jakarta.")


class RetentionItem(BaseModel):
    case_id: str
    report_id: str | None = None
    event_id: str


class RetentionSweep(BaseModel):
    as_of: dt.date
    identities_erased: list[RetentionItem]
    evidence_removed: list[RetentionItem]
    cases_retired: list[RetentionItem]
    waiting_for_archive: list[str] = Field(description="cases whose period ended but no recorded archive holds them")


_CaseId = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_\-]+$")]


class ArchiveSeal(BaseModel):
    """The archive's last line as the status service signed it: the sealed lines' hash and the manifest."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["seal"]
    lines: int = Field(ge=0)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    election_code: str = Field(max_length=40)
    events: int = Field(ge=0)
    case_ids: list[str] = Field(max_length=1_000_000)
    closed_case_ids: list[str] = Field(max_length=1_000_000)
    key_id: str = Field(min_length=1, max_length=200)
    signature: str = Field(min_length=1, max_length=200)


class ArchiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    election_code: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Z0-9][A-Z0-9_\-]*$")]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    events: int = Field(ge=0, le=2**31 - 1, description="how many events the archive holds")
    case_ids: list[_CaseId] = Field(max_length=1_000_000)
    seal: ArchiveSeal = Field(description="the archive's seal line: intake checks its signature against the "
                                          "ledger's pinned key and that it names this election, these cases "
                                          "and this many events")


class ArchiveRecorded(BaseModel):
    election_code: str
    sha256: str
    closed_cases: int = Field(description="closed cases now recorded as archived: these may be retired in time")
    open_cases: int = Field(description="cases still open (or unknown here): they wait for a later archive")
    recorded_at: dt.datetime
