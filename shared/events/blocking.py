"""Events published by the blocking service: personnel-data blocks and escalation to the President."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from shared.events.base import EventData, ImportableEventData

_CASE = "01JD0000000000000000000002"
_NIP = "198609262015051001"


class PersonnelBlocked(ImportableEventData):
    """The civil servant's personnel data is blocked (no promotion, transfer or pension; salary goes on).

    The CloudEvents subject is the case id when the block comes from a case, ``nip:<NIP>`` otherwise."""

    event_type = "sbt.personnel.blocked.v1"
    producer = "blocking"

    block_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    case_id: str | None = None
    agency_code: str | None = None
    cause: Literal["overdue", "manual"]
    reason: str
    blocked_at: dt.datetime

    examples = [{"block_id": "01JD0000000000000000000009", "nip": _NIP, "case_id": _CASE,
                 "agency_code": "PEMPROV-JABAR", "cause": "overdue",
                 "reason": "Tindak lanjut melewati batas waktu 2024-11-04.", "blocked_at": "2024-11-05T00:00:00Z"}]


class PersonnelUnblocked(ImportableEventData):
    """A block was lifted: the PPK imposed the sanction, or BKN lifted it by hand."""

    event_type = "sbt.personnel.unblocked.v1"
    producer = "blocking"

    block_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    case_id: str | None = None
    cause: Literal["followup", "manual"]
    reason: str
    unblocked_at: dt.datetime

    examples = [{"block_id": "01JD0000000000000000000009", "nip": _NIP, "case_id": _CASE, "cause": "followup",
                 "reason": "PPK menetapkan hukuman, SK 800/123/BKD/2024.", "unblocked_at": "2024-11-08T00:00:00Z"}]


class BlockDeclined(EventData):
    """BKN decided not to block the civil servant of an overdue case, and recorded why (e.g. the decree is
    being drafted, the civil servant has left the agency). Subject: the case id."""

    event_type = "sbt.block.declined.v1"
    producer = "blocking"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    agency_code: str | None = None
    due_date: dt.date | None = Field(default=None, description="The missed due date the decision answers.")
    reason: str
    decided_by: str
    decided_at: dt.datetime

    examples = [{"case_id": _CASE, "nip": _NIP, "agency_code": "PEMPROV-JABAR", "due_date": "2024-11-04",
                 "reason": "SK hukuman sedang ditandatangani; PPK melapor tertulis.", "decided_by": "bkn-blocker",
                 "decided_at": "2024-11-06T02:00:00Z"}]


class MoreTimeGranted(EventData):
    """BKN gave the PPK of an overdue case more time instead of blocking: the sanction service extends the
    deadline by ``working_days`` (its ``sbt.followup.deadline_extended.v1`` follows). Subject: the case id."""

    event_type = "sbt.block.time_granted.v1"
    producer = "blocking"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    agency_code: str | None = None
    due_date: dt.date | None = Field(default=None, description="The missed due date the decision answers.")
    working_days: int = Field(ge=1, le=60)
    reason: str
    decided_by: str
    decided_at: dt.datetime

    examples = [{"case_id": _CASE, "nip": _NIP, "agency_code": "PEMPROV-JABAR", "due_date": "2024-11-04",
                 "working_days": 5, "reason": "PPK baru dilantik; diberi waktu lima hari kerja.",
                 "decided_by": "bkn-blocker", "decided_at": "2024-11-06T02:00:00Z"}]


class EscalationRaised(EventData):
    """An agency's PPK left too many cases overdue: a recommendation to the President, with the cases.

    The CloudEvents subject is ``agency:<code>``."""

    event_type = "sbt.escalation.raised.v1"
    producer = "blocking"

    escalation_id: str
    agency_code: str
    overdue_case_ids: list[str]
    threshold: int
    raised_at: dt.datetime

    examples = [{"escalation_id": "01JD000000000000000000000A", "agency_code": "PEMPROV-JABAR",
                 "overdue_case_ids": [_CASE], "threshold": 1, "raised_at": "2024-11-05T00:00:00Z"}]
