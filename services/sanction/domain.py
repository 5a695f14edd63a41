"""The sanction service's rules, free of I/O: the follow-up obligation's states, its due date in working days,
what a sweep on a given date must announce, and how a recorded follow-up is judged.

The calendar is passed in (weekends, Indonesian public holidays, configured days off), so every rule here is
a pure function of its arguments and is unit-tested without a clock or a database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from shared.events.reference import SANCTION_ORDER


class Calendar(Protocol):
    def add_working_days(self, start: dt.date, days: int) -> dt.date: ...

    def working_days_between(self, start: dt.date, end: dt.date) -> int: ...


class State(StrEnum):
    PENDING = "pending"  # the deadline runs
    SUSPENDED = "suspended"  # the deadline is stopped; it never goes overdue
    OVERDUE = "overdue"  # the due date passed without a follow-up; a follow-up is still accepted (late)
    DONE = "done"  # the PPK recorded the decree


class Action(StrEnum):
    WARN = "warn"
    OVERDUE = "overdue"
    SUSPEND = "suspend"
    RESUME = "resume"
    EXTEND = "extend"
    RECORD = "record"
    REMIND = "remind"  # BKN reminds the PPK; the state stays


class TransitionRefused(Exception):
    """The action does not apply to the obligation in its current state (a 409 for the caller)."""

    def __init__(self, state: State, action: Action) -> None:
        super().__init__(_REFUSALS.get((state, action)) or f"cannot {action.value} a follow-up that is {state.value}")
        self.state = state
        self.action = action


_REFUSALS = {
    (State.DONE, Action.RECORD): "the follow-up of this case is already recorded",
    (State.SUSPENDED, Action.EXTEND): "the deadline is suspended: resume it before extending it",
    (State.SUSPENDED, Action.SUSPEND): "the deadline is already suspended",
    (State.PENDING, Action.RESUME): "the deadline is not suspended",
    (State.OVERDUE, Action.RESUME): "the deadline is not suspended",
    (State.DONE, Action.REMIND): "the follow-up of this case is already recorded: no sanction awaits the PPK",
    (State.SUSPENDED, Action.REMIND): "the deadline is suspended: no sanction is awaited from the PPK until it "
                                      "resumes",
}


def transition(state: State, action: Action) -> State:
    """The one table of what may happen to a follow-up obligation, and the state it leads to."""
    match (state, action):
        case (State.PENDING, Action.WARN):
            return State.PENDING
        case (State.PENDING, Action.OVERDUE):
            return State.OVERDUE
        case (State.PENDING | State.OVERDUE, Action.SUSPEND):
            return State.SUSPENDED
        case (State.SUSPENDED, Action.RESUME):
            return State.PENDING
        # An extension gives the deadline back its run; if the new date has passed too, the next sweep
        # announces overdue again, once for that new date.
        case (State.PENDING | State.OVERDUE, Action.EXTEND):
            return State.PENDING
        case (State.PENDING | State.OVERDUE | State.SUSPENDED, Action.RECORD):
            return State.DONE
        # A reminder is for a sanction still owed while the deadline runs or has passed.
        case (State.PENDING | State.OVERDUE, Action.REMIND):
            return state
    raise TransitionRefused(state, action)


# --- due dates ------------------------------------------------------------------------------------------


def due_date(issued_on: dt.date, working_days: int, calendar: Calendar) -> dt.date:
    """The PPK has ``working_days`` working days after the day the recommendation was issued."""
    return calendar.add_working_days(issued_on, working_days)


def working_days_left(today: dt.date, due: dt.date, calendar: Calendar) -> int:
    """Working days after ``today`` up to and including the due date; 0 on the due date, negative after."""
    return calendar.working_days_between(today, due)


def days_left_at_suspension(suspended_on: dt.date, due: dt.date, calendar: Calendar) -> int:
    """What a suspension keeps for later: the working days still left, none if the date had passed."""
    return max(0, calendar.working_days_between(suspended_on, due))


def due_date_on_resumption(resumed_on: dt.date, days_left: int, calendar: Calendar) -> dt.date:
    """The deadline runs again from the resumption date with the working days it had left."""
    return calendar.add_working_days(resumed_on, days_left)


def extended_due_date(due: dt.date, working_days: int, calendar: Calendar) -> dt.date:
    if working_days < 1:
        raise ValueError("an extension is at least one working day")
    return calendar.add_working_days(due, working_days)


# --- the sweep ------------------------------------------------------------------------------------------


class NoticeKind(StrEnum):
    EARLY_WARNING = "early_warning"  # peringatan dini: few working days left
    DUE_TODAY = "due_today"  # the last day
    OVERDUE = "overdue"  # the first working day after the due date has come


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    working_days_left: int


def notice_due(*, due: dt.date, as_of: dt.date, warning_days: int, calendar: Calendar) -> Notice | None:
    """What a sweep on ``as_of`` must announce for a running deadline (each kind at most once per due date,
    which the caller guarantees). A sweep that skipped days announces only the latest fact: a deadline
    found already overdue gets no belated warning."""
    left = working_days_left(as_of, due, calendar)
    if as_of > due:
        # Overdue on the first *working* day after the due date: a Friday deadline is not overdue on Saturday.
        return Notice(NoticeKind.OVERDUE, left) if left < 0 else None
    if as_of == due or left == 0:
        return Notice(NoticeKind.DUE_TODAY, 0)
    if left <= warning_days:
        return Notice(NoticeKind.EARLY_WARNING, left)
    return None


def sweep_horizon(as_of: dt.date, warning_days: int, calendar: Calendar) -> dt.date:
    """The latest due date a sweep on ``as_of`` can have anything to say about (a database pre-filter)."""
    return calendar.add_working_days(as_of, warning_days)


# --- the follow-up --------------------------------------------------------------------------------------


def is_lighter(imposed: str, recommended: str) -> bool:
    return SANCTION_ORDER.index(imposed) < SANCTION_ORDER.index(recommended)


def is_late(*, state: State, due: dt.date, decree_date: dt.date, recorded_on: dt.date) -> bool:
    """Late when already announced overdue, or when the decree or its recording came after the due date.
    A suspended deadline is not running, so nothing recorded during a suspension is late."""
    if state is State.SUSPENDED:
        return False
    return state is State.OVERDUE or max(decree_date, recorded_on) > due


@dataclass(frozen=True)
class FollowupInput:
    decree_date: dt.date
    sanction_level: str
    effective_from: dt.date
    effective_until: dt.date | None
    reason: str | None


def followup_problems(
    followup: FollowupInput, *, recommended_level: str, issued_on: dt.date, today: dt.date
) -> list[tuple[str, str]]:
    """(field, reason) for everything wrong with a follow-up; empty when it can be recorded."""
    problems: list[tuple[str, str]] = []
    if followup.decree_date > today:
        problems.append(("decree_date", f"must not be in the future (today is {today.isoformat()})"))
    if followup.decree_date < issued_on:
        problems.append(
            ("decree_date", f"must not be before the recommendation was issued ({issued_on.isoformat()})")
        )
    if followup.effective_until is not None and followup.effective_until < followup.effective_from:
        problems.append(("effective_until", "must not be before effective_from"))
    if is_lighter(followup.sanction_level, recommended_level) and not followup.reason:
        problems.append(
            ("reason", f"required: {followup.sanction_level} is lighter than the recommended {recommended_level}")
        )
    return problems
