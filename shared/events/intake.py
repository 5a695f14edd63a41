"""Events published by the intake service."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from shared.events.base import ImportableEventData

ReporterCategory = Literal["bawaslu", "satgas", "public"]

_EXAMPLE_NIP = "198609262015051001"


class ReportReceived(ImportableEventData):
    """A report (laporan / temuan) was accepted and attached to a case.

    The reporter's identity never travels on the bus; only the reporter's category does, and the
    complaint number only as its SHA-256 (``complaint_ref``) so the status service can answer a public
    "Cek Status Laporan" without learning the number.
    """

    event_type = "sbt.report.received.v1"
    producer = "intake"

    report_id: str
    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    agency_code: str | None = None
    election_code: str
    violation_codes: list[str]
    incident_date: dt.date
    incident_place: str
    province: str | None = None
    description: str
    evidence_urls: list[str] = []
    reporter_category: ReporterCategory
    complaint_ref: str
    received_at: dt.datetime
    # Whether the NIP is in intake's roster: False flags a report on someone missing from it (accepted
    # all the same); None means no roster was loaded.
    nip_in_roster: bool | None = None
    # No longer published: the reporter's identity stays in intake, where erasure can reach every copy,
    # and no consumer needs it. Events published before carry it sealed under the report's own data key,
    # which never left intake; erasing the identity deletes that key, so those stay unreadable ciphertext.
    reporter_identity_sealed: str | None = Field(default=None, max_length=4000)

    examples = [
        {
            "report_id": "01JD0000000000000000000001",
            "case_id": "01JD0000000000000000000002",
            "nip": _EXAMPLE_NIP,
            "agency_code": "PEMPROV-JABAR",
            "election_code": "PILKADA-2024",
            "violation_codes": ["ETIK-MEDSOS"],
            "incident_date": "2024-10-14",
            "incident_place": "Kota Bandung",
            "province": "JAWA BARAT",
            "description": "Membagikan konten kampanye salah satu pasangan calon di media sosial.",
            "evidence_urls": ["https://example.org/bukti/1.png"],
            "reporter_category": "bawaslu",
            "complaint_ref": "0" * 64,
            "received_at": "2024-10-15T03:00:00Z",
            "nip_in_roster": True,
        }
    ]


class CaseOpened(ImportableEventData):
    """The first report on a civil servant in an election opened a case."""

    event_type = "sbt.case.opened.v1"
    producer = "intake"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    election_code: str
    agency_code: str | None = None
    province: str | None = None
    first_report_id: str
    opened_at: dt.datetime
    # As in ReportReceived: whether the NIP is in intake's roster (None: no roster loaded).
    nip_in_roster: bool | None = None

    examples = [
        {
            "case_id": "01JD0000000000000000000002",
            "nip": _EXAMPLE_NIP,
            "election_code": "PILKADA-2024",
            "agency_code": "PEMPROV-JABAR",
            "province": "JAWA BARAT",
            "first_report_id": "01JD0000000000000000000001",
            "opened_at": "2024-10-15T03:00:00Z",
            "nip_in_roster": True,
        }
    ]
