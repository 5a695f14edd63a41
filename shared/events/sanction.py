"""Events published by the sanction service: deadlines, early warnings and the PPK's follow-up."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from shared.events.base import EventData, ImportableEventData
from shared.events.reference import SanctionLevel

_CASE = "01JD0000000000000000000002"
_NIP = "198609262015051001"


class DeadlineSet(EventData):
    """The PPK's follow-up deadline, counted in working days from the recommendation."""

    event_type = "sbt.followup.deadline_set.v1"
    producer = "sanction"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    agency_code: str | None = None
    due_date: dt.date
    working_days: int
    set_at: dt.datetime

    examples = [{
        "case_id": _CASE, "nip": _NIP, "agency_code": "PEMPROV-JABAR", "due_date": "2024-11-04",
        "working_days": 10, "set_at": "2024-10-20T02:00:00Z",
    }]


class DeadlineSuspended(EventData):
    """The deadline stops running (e.g. the PPK's decree awaits a higher authority)."""

    event_type = "sbt.followup.deadline_suspended.v1"
    producer = "sanction"

    case_id: str
    reason: str
    suspended_on: dt.date
    working_days_left: int

    examples = [{"case_id": _CASE, "reason": "Menunggu pertimbangan BKN.", "suspended_on": "2024-10-25",
                 "working_days_left": 6}]


class DeadlineResumed(EventData):
    """A suspended deadline runs again; the due date moves by the working days it was suspended."""

    event_type = "sbt.followup.deadline_resumed.v1"
    producer = "sanction"

    case_id: str
    reason: str
    resumed_on: dt.date
    due_date: dt.date

    examples = [{"case_id": _CASE, "reason": "Pertimbangan diterima.", "resumed_on": "2024-11-01",
                 "due_date": "2024-11-11"}]


class DeadlineExtended(EventData):
    """The deadline was extended by a number of working days, with a reason."""

    event_type = "sbt.followup.deadline_extended.v1"
    producer = "sanction"

    case_id: str
    reason: str
    working_days: int
    due_date: dt.date

    examples = [{"case_id": _CASE, "reason": "PPK berganti.", "working_days": 5, "due_date": "2024-11-11"}]


class FollowupWarning(EventData):
    """Early warning (peringatan dini): the deadline is near."""

    event_type = "sbt.followup.warning.v1"
    producer = "sanction"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    agency_code: str | None = None
    due_date: dt.date
    working_days_left: int
    warned_on: dt.date

    examples = [{"case_id": _CASE, "nip": _NIP, "agency_code": "PEMPROV-JABAR", "due_date": "2024-11-04",
                 "working_days_left": 3, "warned_on": "2024-10-30"}]


class FollowupOverdue(EventData):
    """The deadline passed without a follow-up: BKN may block the civil servant's personnel data."""

    event_type = "sbt.followup.overdue.v1"
    producer = "sanction"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    agency_code: str | None = None
    due_date: dt.date
    overdue_on: dt.date

    examples = [{"case_id": _CASE, "nip": _NIP, "agency_code": "PEMPROV-JABAR", "due_date": "2024-11-04",
                 "overdue_on": "2024-11-05"}]


class PpkReminded(EventData):
    """BKN (a regional office for its region's agencies, or the blocking desk) reminded the PPK of a sanction
    it still owes: the deadline is running or passed. Moves nothing; the PPK's and the case's record."""

    event_type = "sbt.followup.ppk_reminded.v1"
    producer = "sanction"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    agency_code: str | None = None
    message: str
    state: str = Field(description="The obligation when reminded: pending or overdue.")
    due_date: dt.date
    working_days_left: int = Field(description="On the day of the reminder; negative once overdue.")
    reminded_by_agency: str = Field(description="The reminding agency (BKN).")
    reminded_by_office: str | None = Field(default=None, description="The regional office's code, for a Kanreg.")
    reminded_at: dt.datetime

    examples = [{
        "case_id": _CASE, "nip": _NIP, "agency_code": "PEMPROV-JABAR",
        "message": "Mohon segera menetapkan keputusan hukuman disiplin.", "state": "pending",
        "due_date": "2024-11-04", "working_days_left": 2, "reminded_by_agency": "BKN", "reminded_by_office": "III",
        "reminded_at": "2024-10-31T03:00:00Z",
    }]


class FollowupRecorded(ImportableEventData):
    """The PPK imposed the sanction by decree."""

    event_type = "sbt.followup.recorded.v1"
    producer = "sanction"

    case_id: str
    nip: str = Field(pattern=r"^[0-9]{18}$")
    agency_code: str | None = None
    decree_number: str
    decree_date: dt.date
    sanction_level: SanctionLevel
    recommended_level: SanctionLevel
    lighter_than_recommended: bool
    reason: str | None = None
    effective_from: dt.date
    effective_until: dt.date | None = None
    late: bool = False
    recorded_by_agency: str
    recorded_at: dt.datetime

    examples = [{
        "case_id": _CASE, "nip": _NIP, "agency_code": "PEMPROV-JABAR",
        "decree_number": "800/123/BKD/2024", "decree_date": "2024-11-01", "sanction_level": "moderate",
        "recommended_level": "moderate", "lighter_than_recommended": False, "reason": None,
        "effective_from": "2024-11-01", "effective_until": "2025-10-31", "late": False,
        "recorded_by_agency": "PEMPROV-JABAR", "recorded_at": "2024-11-01T05:00:00Z",
    }, {
        # An agency's past case brought in by `sbt import history`: the same event, marked and dated as the books say.
        "case_id": _CASE, "nip": _NIP, "agency_code": "PEMPROV-JAMBI", "decree_number": "SK-IMPOR-3F2A9C01B7D4",
        "decree_date": "2020-11-02", "sanction_level": "moral_open", "recommended_level": "moral_open",
        "lighter_than_recommended": False, "effective_from": "2020-11-02", "late": False,
        "recorded_by_agency": "PEMPROV-JAMBI", "recorded_at": "2020-11-02T02:00:00Z",
        "imported": True, "imported_by": "siti.rahma", "source": "rekap-pilkada-2020.xlsx:17",
    }]
