"""Who reads which follow-ups, and how an obligation is shown (working days left by state)."""

import datetime as dt

import pytest

from services.sanction.followups import readable_agencies, view
from services.sanction.models import Followup
from shared.auth import Actor
from shared.calendar import WorkingCalendar
from shared.problems import Problem

PPK = Actor(client_id="jabar", agency="PEMPROV-JABAR", roles=frozenset({"ppk"}), ppk_agency="PEMPROV-JABAR")


def test_a_ppk_lists_only_its_own_agency():
    assert readable_agencies(PPK, None) == {"PEMPROV-JABAR"}
    assert readable_agencies(PPK, "PEMPROV-JABAR") == {"PEMPROV-JABAR"}
    with pytest.raises(Problem) as refused:
        readable_agencies(PPK, "PEMKAB-BOGOR")
    assert refused.value.status == 403
    nameless = Actor(client_id="x", agency="PEMPROV-JABAR", roles=frozenset({"ppk"}))
    with pytest.raises(Problem):
        readable_agencies(nameless, None)


def test_national_readers_list_any_agency_or_all():
    observer = Actor(client_id="kasn", agency="BKN", roles=frozenset({"observer"}))
    assert readable_agencies(observer, None) is None
    assert readable_agencies(observer, "PEMKAB-BOGOR") == {"PEMKAB-BOGOR"}


def _row(**changes) -> Followup:
    values = dict(case_id="C1", nip="198609262015051001", agency_code="PEMPROV-JABAR", recommendation_number="R1",
                  category="discipline", recommended_level="moderate", issued_on=dt.date(2024, 12, 2),
                  working_days=10, state="pending", due_date=dt.date(2024, 12, 16), suspended_on=None,
                  suspended_days_left=None, warned_on=None, overdue_on=None, lighter_than_recommended=False,
                  late=False)
    return Followup(**{**values, **changes})


def test_working_days_left_follow_the_state():
    calendar, today = WorkingCalendar(), dt.date(2024, 12, 10)
    assert view(_row(), ppk_title=None, today=today, calendar=calendar).working_days_left == 4
    overdue = view(_row(state="overdue"), ppk_title=None, today=dt.date(2024, 12, 18), calendar=calendar)
    assert overdue.working_days_left == -2
    suspended = _row(state="suspended", suspended_on=dt.date(2024, 12, 3), suspended_days_left=9)
    assert view(suspended, ppk_title=None, today=today, calendar=calendar).working_days_left == 9
    done = _row(state="done", decree_number="800/1", decree_date=today, sanction_level="moderate",
                effective_from=today, effective_until=None, reason=None, recorded_by_agency="PEMPROV-JABAR",
                recorded_at=dt.datetime(2024, 12, 10, tzinfo=dt.UTC))
    shown = view(done, ppk_title="Gubernur Jawa Barat", today=today, calendar=calendar)
    assert shown.working_days_left is None and shown.followup.decree_number == "800/1"
    assert shown.ppk_title == "Gubernur Jawa Barat"
