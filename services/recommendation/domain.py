"""The examining side's rules, free of I/O: the stages of a case, the one table of transitions, the
finding's category, sanction level and legal basis (catalogue defaults, overridable per case), the
verification target and the recommendation number."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared.calendar import WorkingCalendar
from shared.events.reference import SANCTION_ORDER


class Stage(StrEnum):
    AWAITING_VERIFICATION = "awaiting_verification"
    AWAITING_EXAMINATION = "awaiting_examination"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    OUT_OF_SERVICE = "out_of_service"
    RECOMMENDED = "recommended"  # proven, and the recommendation went to the PPK
    NOT_PROVEN = "not_proven"


class Step(StrEnum):
    VERIFICATION = "verification"
    EXAMINATION = "examination"


VERIFICATION_OUTCOMES = ("accepted", "rejected", "cancelled", "out_of_service")
EXAMINATION_OUTCOMES = ("proven", "not_proven")

# The one table: (stage the case is in, step, outcome) -> the stage it moves to. Anything missing is refused.
TRANSITIONS: dict[tuple[Stage, Step, str], Stage] = {
    (Stage.AWAITING_VERIFICATION, Step.VERIFICATION, "accepted"): Stage.AWAITING_EXAMINATION,
    (Stage.AWAITING_VERIFICATION, Step.VERIFICATION, "rejected"): Stage.REJECTED,
    (Stage.AWAITING_VERIFICATION, Step.VERIFICATION, "cancelled"): Stage.CANCELLED,
    (Stage.AWAITING_VERIFICATION, Step.VERIFICATION, "out_of_service"): Stage.OUT_OF_SERVICE,
    (Stage.AWAITING_EXAMINATION, Step.EXAMINATION, "proven"): Stage.RECOMMENDED,
    (Stage.AWAITING_EXAMINATION, Step.EXAMINATION, "not_proven"): Stage.NOT_PROVEN,
}

CLOSED_AT_VERIFICATION = frozenset({Stage.REJECTED, Stage.CANCELLED, Stage.OUT_OF_SERVICE})
EXAMINED = frozenset({Stage.RECOMMENDED, Stage.NOT_PROVEN})


class TransitionRefused(Exception):
    """The step does not apply to a case in this stage (answered 409 Conflict)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def next_stage(stage: Stage, step: Step, outcome: str) -> Stage:
    """The stage after deciding ``step`` with ``outcome``; ``TransitionRefused`` says why not."""
    target = TRANSITIONS.get((stage, step, outcome))
    if target is not None:
        return target
    outcomes = VERIFICATION_OUTCOMES if step is Step.VERIFICATION else EXAMINATION_OUTCOMES
    if outcome not in outcomes:
        raise ValueError(f"{outcome!r} is not an outcome of {step}")  # the request schema keeps this out
    if step is Step.VERIFICATION:
        raise TransitionRefused(f"the verification was already decided: the case is {stage}")
    if stage is Stage.AWAITING_VERIFICATION:
        raise TransitionRefused("the case awaits verification; only a case accepted at verification is examined")
    if stage in EXAMINED:
        raise TransitionRefused(f"the case was already examined: it is {stage}")
    raise TransitionRefused(f"the case was closed at verification ({stage}) and is not examined")


# --- The finding: category, sanction level and legal basis -------------------------------------------

CATEGORY_LEVELS: dict[str, tuple[str, ...]] = {
    "ethics": ("moral_closed", "moral_open"),
    "discipline": ("light", "moderate", "severe", "dishonourable_dismissal"),
}


def category_of(level: str) -> str:
    for category, levels in CATEGORY_LEVELS.items():
        if level in levels:
            return category
    raise ValueError(f"unknown sanction level {level!r}")


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    category: str
    legal_basis: str
    default_sanction: str


@dataclass(frozen=True)
class Finding:
    category: str
    sanction_level: str
    legal_basis: str


class InvalidFinding(Exception):
    """A field of the finding is missing or contradicts another (answered 422 naming the field)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def heaviest_default(violation_codes: Iterable[str], catalogue: Mapping[str, CatalogueEntry]) -> CatalogueEntry | None:
    """The catalogue entry of the case's violations with the heaviest default sanction (several acts are
    judged by the gravest one); ``None`` when none of the codes is in the catalogue."""
    known = [catalogue[code] for code in sorted(set(violation_codes)) if code in catalogue]
    return max(known, key=lambda entry: SANCTION_ORDER.index(entry.default_sanction), default=None)


def resolve_finding(
    violation_codes: Iterable[str],
    catalogue: Mapping[str, CatalogueEntry],
    *,
    category: str | None = None,
    sanction_level: str | None = None,
    legal_basis: str | None = None,
) -> Finding:
    """What a proven case is recommended: each field as the examiner gave it, otherwise the catalogue's
    default for the case's heaviest violation, and the level always one of the category's."""
    codes = sorted(set(violation_codes))
    default = heaviest_default(codes, catalogue)
    if category is None:
        category = category_of(sanction_level) if sanction_level else (default.category if default else None)
    if category is None:
        raise InvalidFinding("category", f"required: none of the case's violation codes {codes} is in the catalogue")
    # A default is used only when it is of the category decided, so an ethics default never fills in a
    # discipline finding.
    usable = default if default is not None and default.category == category else None
    if sanction_level is None:
        if usable is None:
            raise InvalidFinding("sanction_level", f"required: the catalogue has no {category} default for {codes}")
        sanction_level = usable.default_sanction
    if sanction_level not in CATEGORY_LEVELS[category]:
        allowed = ", ".join(CATEGORY_LEVELS[category])
        raise InvalidFinding("sanction_level", f"{sanction_level} is not a {category} sanction (one of: {allowed})")
    if legal_basis is None:
        if usable is None:
            raise InvalidFinding("legal_basis", f"required: the catalogue has no {category} entry for {codes}")
        legal_basis = usable.legal_basis
    return Finding(category=category, sanction_level=sanction_level, legal_basis=legal_basis)


# --- Verification target and recommendation numbers ---------------------------------------------------

def verification_due(
    reported_on: dt.date, days: int, *, working_days: bool = False, calendar: WorkingCalendar | None = None
) -> dt.date:
    """The day by which the task force should have verified a case first reported on ``reported_on``."""
    if working_days:
        if calendar is None:
            raise ValueError("counting working days needs a calendar")
        return calendar.add_working_days(reported_on, days)
    return reported_on + dt.timedelta(days=days)


def recommendation_number(year: int, serial: int) -> str:
    """``REK-2024-000123``: the year of the examination and a serial that restarts every year."""
    if not 1 <= serial <= 999_999:
        raise ValueError(f"serial {serial} out of range")
    return f"REK-{year:04d}-{serial:06d}"
