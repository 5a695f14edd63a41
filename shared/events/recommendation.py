"""Events published by the recommendation service (verification and examination)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from shared.events.base import EventData, ImportableEventData
from shared.events.reference import Category, SanctionLevel

_CASE = "01JD0000000000000000000002"
_NIP = "198609262015051001"


class VerificationDecided(ImportableEventData):
    """The task force verified a case: accepted for examination, rejected, cancelled, or the civil
    servant is already out of service."""

    event_type = "sbt.case.verification_decided.v1"
    producer = "recommendation"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    outcome: Literal["accepted", "rejected", "cancelled", "out_of_service"]
    reason: str
    decided_by_agency: str
    decided_at: dt.datetime

    examples = [{
        "case_id": _CASE, "nip": _NIP, "outcome": "accepted", "reason": "Bukti cukup untuk diperiksa.",
        "decided_by_agency": "BAWASLU", "decided_at": "2024-10-17T02:00:00Z",
    }]


class ClarificationRecorded(EventData):
    """The examining authority recorded the reported civil servant's clarification (given on a day, or
    declined) before its finding: a case is not examined as proven without hearing them first.

    The clarification's words stay in the recommendation service (its examiners and admins read them):
    the event, which every feed and webhook may carry, says only that it was given or declined, when, and
    the SHA-256 of the summary, so the ledger attests to the text without spreading it."""

    event_type = "sbt.case.clarification_recorded.v1"
    producer = "recommendation"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    outcome: Literal["given", "declined"]
    clarified_on: dt.date = Field(description="The day the civil servant clarified (or declined to).")
    summary_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                                       description="The SHA-256 of the recorded summary (UTF-8); none when declined.")
    recorded_by_agency: str
    recorded_at: dt.datetime

    examples = [{
        "case_id": _CASE, "nip": _NIP, "outcome": "given", "clarified_on": "2024-10-19",
        "summary_sha256": "5d41402abc4b2a76b9719d911017c592" * 2, "recorded_by_agency": "BKN",
        "recorded_at": "2024-10-19T08:00:00Z",
    }]


class CaseExamined(ImportableEventData):
    """The examining authority found the violation proven or not proven."""

    event_type = "sbt.case.examined.v1"
    producer = "recommendation"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    outcome: Literal["proven", "not_proven"]
    category: Category | None = None
    sanction_level: SanctionLevel | None = None
    violation_codes: list[str] = []
    legal_basis: str | None = None
    reason: str
    examining_authority: str
    examined_at: dt.datetime

    examples = [{
        "case_id": _CASE, "nip": _NIP, "outcome": "proven", "category": "discipline",
        "sanction_level": "moderate", "violation_codes": ["DISIPLIN-KAMPANYE"],
        "legal_basis": "PP 94/2021 pasal 5 huruf n", "reason": "Terbukti ikut kampanye.",
        "examining_authority": "BKN", "examined_at": "2024-10-20T02:00:00Z",
    }]


class RecommendationIssued(ImportableEventData):
    """A recommendation went to the civil servant's PPK, naming the category and sanction level."""

    event_type = "sbt.recommendation.issued.v1"
    producer = "recommendation"

    case_id: str
    recommendation_number: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    agency_code: str | None = None
    category: Category
    sanction_level: SanctionLevel
    legal_basis: str
    examining_authority: str
    issued_at: dt.datetime

    examples = [{
        "case_id": _CASE, "recommendation_number": "REK-2024-000123", "nip": _NIP,
        "agency_code": "PEMPROV-JABAR", "category": "discipline", "sanction_level": "moderate",
        "legal_basis": "PP 94/2021 pasal 5 huruf n", "examining_authority": "BKN",
        "issued_at": "2024-10-20T02:00:00Z",
    }]
