"""Working days: Monday to Friday, minus Indonesia's public holidays (from the ``holidays`` package), its
joint leave days (cuti bersama, shipped as data with their decrees: ``shared/joint_leave.py``) and any extra
days off that are configured (a decree newer than the data, local decisions)."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable

import holidays

from shared import joint_leave


class WorkingCalendar:
    def __init__(self, extra_days_off: Iterable[dt.date] = (),
                 joint_leave_days: dict[dt.date, joint_leave.JointLeaveDay] | None = None) -> None:
        """``joint_leave_days``: None for the shipped ones; ``{}`` for none (to count national holidays only)."""
        self.extra_days_off = frozenset(extra_days_off)
        self.joint_leave = joint_leave.shipped() if joint_leave_days is None else joint_leave_days
        self._holidays = holidays.country_holidays("ID")
        self._off_by_year: dict[int, list[dt.date]] = {}

    def is_working_day(self, day: dt.date) -> bool:
        return (day.weekday() < 5 and day not in self._holidays and day not in self.joint_leave
                and day not in self.extra_days_off)

    def holiday_name(self, day: dt.date) -> str | None:
        if day in self.joint_leave:
            return f"Cuti bersama ({self.joint_leave[day].occasion})"
        if day in self.extra_days_off:
            return "configured day off"
        return self._holidays.get(day)

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = start
        while days > 0:
            current += dt.timedelta(days=1)
            if self.is_working_day(current):
                days -= 1
        return current

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end``; negative when ``end`` is earlier.

        Counted without walking the days (worklists ask this for every row, some long overdue): weekdays
        by arithmetic, minus the days off that fall on a weekday, found by bisection in a per-year list."""
        if end < start:
            return -self.working_days_between(end, start)
        days_off = 0
        for year in range(start.year, end.year + 1):
            off = self._weekday_days_off(year)
            days_off += bisect.bisect_right(off, end) - bisect.bisect_right(off, start)
        return _weekdays_up_to(end) - _weekdays_up_to(start) - days_off

    def _weekday_days_off(self, year: int) -> list[dt.date]:
        off = self._off_by_year.get(year)
        if off is None:
            first = dt.date(year, 1, 1)
            days = (dt.date(year + 1, 1, 1) - first).days if year < dt.MAXYEAR else 365
            candidates = (first + dt.timedelta(days=i) for i in range(days))
            off = [day for day in candidates if day.weekday() < 5 and not self.is_working_day(day)]
            self._off_by_year[year] = off
        return off


def _weekdays_up_to(day: dt.date) -> int:
    """Monday-to-Friday days from 1 Jan of year 1 (a Monday) up to and including ``day``."""
    weeks, rest = divmod(day.toordinal(), 7)
    return weeks * 5 + min(rest, 5)
