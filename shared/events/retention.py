"""Events of the retention sweep (services/intake/retention.py): what a rule of deploy/seed/retention.json
removed, when, and under which rule. They carry no personal data: only ids, the outcome and dates."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from shared.events.base import EventData

_Outcome = Field(pattern=r"^(rejected|cancelled|out_of_service|not_proven|sanctioned)$")
_Sha256 = Field(pattern=r"^[0-9a-f]{64}$")


class ReporterIdentityExpired(EventData):
    """A report's reporter identity was erased for good because its retention period ended."""

    event_type = "sbt.report.identity_expired.v1"
    producer = "intake"

    report_id: str
    case_id: str
    election_code: str
    outcome: str = _Outcome
    closed_on: dt.date
    kept_days: int = Field(ge=0)
    expired_on: dt.date

    examples = [{"report_id": "01JD0000000000000000000001", "case_id": "01JD0000000000000000000002",
                 "election_code": "PILKADA-2024", "outcome": "rejected", "closed_on": "2024-11-01",
                 "kept_days": 365, "expired_on": "2025-11-01"}]


class EvidenceExpired(EventData):
    """A report's evidence links were removed because their retention period ended."""

    event_type = "sbt.report.evidence_expired.v1"
    producer = "intake"

    report_id: str
    case_id: str
    election_code: str
    outcome: str = _Outcome
    closed_on: dt.date
    kept_days: int = Field(ge=0)
    expired_on: dt.date
    links_removed: int = Field(ge=0)

    examples = [{"report_id": "01JD0000000000000000000001", "case_id": "01JD0000000000000000000002",
                 "election_code": "PILKADA-2024", "outcome": "rejected", "closed_on": "2024-11-01",
                 "kept_days": 365, "expired_on": "2025-11-01", "links_removed": 1}]


class CaseRetired(EventData):
    """A closed case was removed at the end of its retention period, after its election's archive was made.

    Every service removes the case from its books; the status ledger keeps only the hashes of its events
    (so the log still verifies), and the archive named here keeps the events themselves."""

    event_type = "sbt.case.retired.v1"
    producer = "intake"

    case_id: str
    election_code: str
    outcome: str = _Outcome
    closed_on: dt.date
    kept_days: int = Field(ge=0)
    retired_on: dt.date
    reports_removed: int = Field(ge=0)
    archive_sha256: str = _Sha256

    examples = [{"case_id": "01JD0000000000000000000002", "election_code": "PILKADA-2024", "outcome": "rejected",
                 "closed_on": "2024-11-01", "kept_days": 730, "retired_on": "2026-11-01", "reports_removed": 1,
                 "archive_sha256": "0" * 64}]
