"""The working-day calendar: weekends, Indonesian public holidays (from the ``holidays`` package), the
joint leave days shipped as data (shared/calendar_data/cuti_bersama.csv) and configured extra days off."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

import holidays

from shared import joint_leave
from shared.calendar import WorkingCalendar

D = dt.date
# National holidays only: the arithmetic below is about them.
CALENDAR = WorkingCalendar(joint_leave_days={})
# Cuti bersama Natal 2024 was not a public holiday in law: here it comes from configuration alone.
WITH_CUTI_BERSAMA = WorkingCalendar([D(2024, 12, 26)], joint_leave_days={})
DEFAULT = WorkingCalendar()


def test_weekends_and_public_holidays_are_not_working_days():
    assert CALENDAR.is_working_day(D(2024, 12, 24))  # Tuesday
    assert not CALENDAR.is_working_day(D(2024, 12, 21))  # Saturday
    assert not CALENDAR.is_working_day(D(2024, 12, 25))  # Christmas
    assert not CALENDAR.is_working_day(D(2025, 1, 1))  # New Year
    assert not CALENDAR.is_working_day(D(2024, 11, 27))  # Pilkada voting day, a national holiday
    assert CALENDAR.holiday_name(D(2024, 12, 25)) == "Christmas Day"
    assert CALENDAR.holiday_name(D(2024, 12, 24)) is None


def test_a_due_date_moves_across_christmas():
    # Friday 20 Dec + 3 working days: Mon 23, Tue 24, (Wed 25 Christmas), Thu 26.
    assert CALENDAR.add_working_days(D(2024, 12, 20), 3) == D(2024, 12, 26)
    # Ten working days from Friday 13 Dec end on Monday 30 Dec, not on Friday 27 Dec.
    assert CALENDAR.add_working_days(D(2024, 12, 13), 10) == D(2024, 12, 30)


def test_configured_days_off_move_the_due_date_further():
    assert WITH_CUTI_BERSAMA.is_working_day(D(2024, 12, 26)) is False
    assert WITH_CUTI_BERSAMA.holiday_name(D(2024, 12, 26)) == "configured day off"
    assert WITH_CUTI_BERSAMA.add_working_days(D(2024, 12, 20), 3) == D(2024, 12, 27)
    # Across both year-end holidays: 23, 24, 27, 30, 31, (1 Jan), 2 Jan.
    assert WITH_CUTI_BERSAMA.add_working_days(D(2024, 12, 20), 6) == D(2025, 1, 2)


def test_working_days_between_counts_after_the_start_up_to_and_including_the_end():
    assert CALENDAR.working_days_between(D(2024, 12, 20), D(2024, 12, 27)) == 4  # 23, 24, 26, 27
    assert WITH_CUTI_BERSAMA.working_days_between(D(2024, 12, 20), D(2024, 12, 27)) == 3
    assert CALENDAR.working_days_between(D(2024, 12, 27), D(2024, 12, 20)) == -4
    assert CALENDAR.working_days_between(D(2024, 12, 20), D(2024, 12, 22)) == 0  # a weekend
    assert CALENDAR.add_working_days(D(2024, 12, 21), 0) == D(2024, 12, 21)
    with pytest.raises(ValueError):
        CALENDAR.add_working_days(D(2024, 12, 20), -1)


@given(start=st.dates(D(2023, 1, 1), D(2026, 12, 31)), days=st.integers(0, 40))
def test_adding_working_days_lands_on_a_working_day_that_many_working_days_later(start, days):
    due = WITH_CUTI_BERSAMA.add_working_days(start, days)
    assert WITH_CUTI_BERSAMA.working_days_between(start, due) == days
    if days:
        assert WITH_CUTI_BERSAMA.is_working_day(due)
        assert WITH_CUTI_BERSAMA.working_days_between(due, start) == -days


def _walked(calendar: WorkingCalendar, start: dt.date, end: dt.date) -> int:
    """The obvious day-by-day count, to check the arithmetic one against."""
    sign, (low, high) = (1, (start, end)) if start <= end else (-1, (end, start))
    days = (high - low).days
    return sign * sum(calendar.is_working_day(low + dt.timedelta(days=i)) for i in range(1, days + 1))


@given(start=st.dates(D(2022, 1, 1), D(2027, 12, 31)), end=st.dates(D(2022, 1, 1), D(2027, 12, 31)))
def test_working_days_between_agrees_with_walking_the_days(start, end):
    assert WITH_CUTI_BERSAMA.working_days_between(start, end) == _walked(WITH_CUTI_BERSAMA, start, end)
    assert CALENDAR.working_days_between(start, end) == _walked(CALENDAR, start, end)


def test_the_shipped_joint_leave_days_are_days_off_by_default_with_extra_days_on_top():
    assert not DEFAULT.is_working_day(D(2024, 12, 26))
    assert DEFAULT.holiday_name(D(2024, 12, 26)) == "Cuti bersama (Hari Raya Natal)"
    # Idul Fitri 2024: the holidays of 10-11 Apr and the joint leave of 8, 9, 12 and 15 Apr.
    assert [d.day for d in (D(2024, 4, 1) + dt.timedelta(days=i) for i in range(20))
            if d.weekday() < 5 and not DEFAULT.is_working_day(d)] == [8, 9, 10, 11, 12, 15]
    # 2020 as amended: the Idul Fitri leave moved to 31 Dec; 2021 as amended: 24 Dec dropped.
    assert not DEFAULT.is_working_day(D(2020, 12, 31)) and not DEFAULT.is_working_day(D(2020, 8, 21))
    assert DEFAULT.is_working_day(D(2021, 12, 24)) and not DEFAULT.is_working_day(D(2021, 5, 12))
    # A due date across the year's end of 2024 moves one day further than by national holidays alone.
    assert DEFAULT.add_working_days(D(2024, 12, 20), 3) == D(2024, 12, 27)
    assert CALENDAR.add_working_days(D(2024, 12, 20), 3) == D(2024, 12, 26)
    extra = WorkingCalendar([D(2024, 12, 27)])
    assert extra.add_working_days(D(2024, 12, 20), 3) == D(2024, 12, 30)
    assert extra.holiday_name(D(2024, 12, 27)) == "configured day off"


def test_the_joint_leave_data_names_a_decree_for_every_weekday_it_takes_off():
    days = joint_leave.shipped()
    national = holidays.country_holidays("ID", years=range(2020, 2027))
    assert {day.year for day in days} >= set(range(2020, 2027))
    for entry in days.values():
        assert entry.day.weekday() < 5, f"{entry.day} is a weekend"
        assert entry.day not in national, f"{entry.day} is already a national holiday"
        assert entry.decree.startswith("SKB") and entry.occasion
    assert len([d for d in days if d.year == 2024]) == 9 and len([d for d in days if d.year == 2025]) == 10
