"""Time is an input. Services read the time from a Clock; tests and drills pin it (``SBT_CLOCK_FIXED``)
or move it, and never sleep for it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

# Deadlines are counted in Jakarta's calendar days (WIB), whatever the server's time zone.
JAKARTA = ZoneInfo("Asia/Jakarta")


class Clock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return self.now().astimezone(JAKARTA).date()


class FixedClock(Clock):
    """A clock that stands still until moved."""

    def __init__(self, moment: dt.datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a fixed clock needs a timezone-aware moment")
        self.moment = moment

    def now(self) -> dt.datetime:
        return self.moment

    def advance(self, delta: dt.timedelta) -> None:
        self.moment += delta


def clock_from_settings(fixed: dt.datetime | None) -> Clock:
    return FixedClock(fixed) if fixed is not None else Clock()
