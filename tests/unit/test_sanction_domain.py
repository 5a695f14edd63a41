"""The deadline rules of the sanction service, without I/O: state table, due dates in working days,
what a sweep announces on a given day, and how a follow-up is judged."""

import datetime as dt

import pytest

from services.sanction import domain
from services.sanction.domain import Action, NoticeKind, State
from shared.calendar import WorkingCalendar

D = dt.date
# National holidays only (cuti bersama as configured where a test says so), as these rules were written.
CALENDAR = WorkingCalendar(joint_leave_days={})


# --- the state table ------------------------------------------------------------------------------------

ALLOWED = {
    (State.PENDING, Action.WARN): State.PENDING,
    (State.PENDING, Action.OVERDUE): State.OVERDUE,
    (State.PENDING, Action.SUSPEND): State.SUSPENDED,
    (State.PENDING, Action.EXTEND): State.PENDING,
    (State.PENDING, Action.RECORD): State.DONE,
    (State.OVERDUE, Action.SUSPEND): State.SUSPENDED,
    (State.OVERDUE, Action.EXTEND): State.PENDING,
    (State.OVERDUE, Action.RECORD): State.DONE,
    (State.SUSPENDED, Action.RESUME): State.PENDING,
    (State.SUSPENDED, Action.RECORD): State.DONE,
    # BKN reminds the PPK of a sanction still owed; the state stays.
    (State.PENDING, Action.REMIND): State.PENDING,
    (State.OVERDUE, Action.REMIND): State.OVERDUE,
}


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(Action))
def test_every_state_and_action_is_either_in_the_table_or_refused(state, action):
    expected = ALLOWED.get((state, action))
    if expected is None:
        with pytest.raises(domain.TransitionRefused):
            domain.transition(state, action)
    else:
        assert domain.transition(state, action) is expected


def test_refusals_say_why():
    with pytest.raises(domain.TransitionRefused, match="no sanction awaits the PPK"):
        domain.transition(State.DONE, Action.REMIND)
    with pytest.raises(domain.TransitionRefused, match="deadline is suspended"):
        domain.transition(State.SUSPENDED, Action.REMIND)
    with pytest.raises(domain.TransitionRefused, match="already recorded"):
        domain.transition(State.DONE, Action.RECORD)
    with pytest.raises(domain.TransitionRefused, match="resume it before extending"):
        domain.transition(State.SUSPENDED, Action.EXTEND)
    # A suspended deadline never goes overdue, and is never warned about.
    for action in (Action.OVERDUE, Action.WARN):
        with pytest.raises(domain.TransitionRefused):
            domain.transition(State.SUSPENDED, action)


# --- due dates ------------------------------------------------------------------------------------------


def test_the_due_date_counts_working_days_after_the_recommendation():
    assert domain.due_date(D(2024, 12, 9), 10, CALENDAR) == D(2024, 12, 23)
    assert domain.due_date(D(2024, 12, 13), 10, CALENDAR) == D(2024, 12, 30)  # Christmas skipped
    assert domain.due_date(D(2024, 12, 13), 10, WorkingCalendar([D(2024, 12, 26)], joint_leave_days={})) == D(2024, 12, 31)
    assert domain.due_date(D(2024, 12, 20), 3, CALENDAR) == D(2024, 12, 26)  # the 3-day reading of the rule


def test_a_suspension_keeps_the_working_days_left_and_a_resumption_restarts_them():
    due = D(2024, 12, 16)
    # Suspended on Tuesday 10 Dec: 11, 12, 13, 16 are left.
    left = domain.days_left_at_suspension(D(2024, 12, 10), due, CALENDAR)
    assert left == 4
    # Resumed on Friday 20 Dec: 23, 24, (25 Christmas), 26, 27.
    assert domain.due_date_on_resumption(D(2024, 12, 20), left, CALENDAR) == D(2024, 12, 27)
    # Suspended after the due date had passed: nothing is left, the resumption day is the due date.
    assert domain.days_left_at_suspension(D(2024, 12, 18), due, CALENDAR) == 0
    assert domain.due_date_on_resumption(D(2025, 1, 6), 0, CALENDAR) == D(2025, 1, 6)


def test_an_extension_adds_working_days_to_the_current_due_date():
    # 30, 31, (1 Jan New Year), 2 Jan.
    assert domain.extended_due_date(D(2024, 12, 27), 3, CALENDAR) == D(2025, 1, 2)
    with pytest.raises(ValueError):
        domain.extended_due_date(D(2024, 12, 27), 0, CALENDAR)


# --- the sweep ------------------------------------------------------------------------------------------


def _notice(due, as_of, warning_days=3, calendar=CALENDAR):
    return domain.notice_due(due=due, as_of=as_of, warning_days=warning_days, calendar=calendar)


def test_early_warning_when_few_working_days_are_left_then_on_the_due_date_then_overdue():
    due = D(2024, 12, 30)  # Monday
    assert _notice(due, D(2024, 12, 20)) is None  # 23, 24, 26, 27, 30: five left
    assert _notice(due, D(2024, 12, 24)) == domain.Notice(NoticeKind.EARLY_WARNING, 3)  # 26, 27, 30
    assert _notice(due, D(2024, 12, 25)) == domain.Notice(NoticeKind.EARLY_WARNING, 3)  # on a holiday, still 3
    assert _notice(due, D(2024, 12, 27)) == domain.Notice(NoticeKind.EARLY_WARNING, 1)
    assert _notice(due, due) == domain.Notice(NoticeKind.DUE_TODAY, 0)
    assert _notice(due, D(2024, 12, 31)) == domain.Notice(NoticeKind.OVERDUE, -1)
    # A sweep that skipped days announces only the latest fact: overdue, not a belated warning.
    assert _notice(due, D(2025, 1, 20)).kind is NoticeKind.OVERDUE


def test_overdue_only_on_the_first_working_day_after_the_due_date():
    friday = D(2024, 12, 20)
    assert _notice(friday, D(2024, 12, 21)) is None
    assert _notice(friday, D(2024, 12, 22)) is None
    assert _notice(friday, D(2024, 12, 23)).kind is NoticeKind.OVERDUE
    before_christmas = D(2024, 12, 24)
    assert _notice(before_christmas, D(2024, 12, 25)) is None
    assert _notice(before_christmas, D(2024, 12, 26)).kind is NoticeKind.OVERDUE
    assert _notice(before_christmas, D(2024, 12, 26), calendar=WorkingCalendar([D(2024, 12, 26)], joint_leave_days={})) is None


def test_no_early_warning_when_the_threshold_is_zero_but_still_one_on_the_due_date():
    due = D(2024, 12, 30)
    assert _notice(due, D(2024, 12, 27), warning_days=0) is None
    assert _notice(due, due, warning_days=0).kind is NoticeKind.DUE_TODAY


def test_the_sweep_horizon_is_the_last_due_date_with_anything_to_say():
    as_of = D(2024, 12, 20)
    horizon = domain.sweep_horizon(as_of, 3, CALENDAR)
    assert horizon == D(2024, 12, 26)
    assert _notice(horizon, as_of) is not None
    assert _notice(CALENDAR.add_working_days(horizon, 1), as_of) is None


# --- the follow-up --------------------------------------------------------------------------------------


def test_lighter_follows_the_sanction_order():
    assert domain.is_lighter("light", "moderate")
    assert domain.is_lighter("moral_open", "light")
    assert not domain.is_lighter("moderate", "moderate")
    assert not domain.is_lighter("severe", "moderate")


def test_late_when_overdue_or_after_the_due_date_but_never_while_suspended():
    due = D(2024, 12, 23)
    on_time = dict(due=due, decree_date=D(2024, 12, 20), recorded_on=D(2024, 12, 23))
    assert not domain.is_late(state=State.PENDING, **on_time)
    assert domain.is_late(state=State.OVERDUE, **on_time)
    assert domain.is_late(state=State.PENDING, due=due, decree_date=D(2024, 12, 20), recorded_on=D(2024, 12, 24))
    assert domain.is_late(state=State.PENDING, due=due, decree_date=D(2024, 12, 24), recorded_on=D(2024, 12, 24))
    assert not domain.is_late(state=State.SUSPENDED, due=due, decree_date=D(2025, 1, 6), recorded_on=D(2025, 1, 6))


def _followup(**changes):
    values = dict(decree_date=D(2024, 12, 20), sanction_level="moderate", effective_from=D(2024, 12, 20),
                  effective_until=None, reason=None)
    return domain.FollowupInput(**{**values, **changes})


def _problems(followup, recommended="moderate"):
    return domain.followup_problems(followup, recommended_level=recommended, issued_on=D(2024, 12, 9),
                                    today=D(2024, 12, 20))


def test_a_lighter_sanction_needs_a_reason_and_dates_must_make_sense():
    assert _problems(_followup()) == []
    assert _problems(_followup(sanction_level="severe")) == []
    assert [f for f, _ in _problems(_followup(sanction_level="light"))] == ["reason"]
    assert _problems(_followup(sanction_level="light", reason="Pertimbangan masa kerja.")) == []
    assert [f for f, _ in _problems(_followup(decree_date=D(2024, 12, 21)))] == ["decree_date"]
    assert [f for f, _ in _problems(_followup(decree_date=D(2024, 12, 6)))] == ["decree_date"]
    fields = [f for f, _ in _problems(_followup(effective_until=D(2024, 12, 1), sanction_level="light"))]
    assert fields == ["effective_until", "reason"]
