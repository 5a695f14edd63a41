"""The shared status: one pure function, ``apply(status, event) -> status``.

The status service runs it to build its read model, and ``sbt verify`` runs the very same function to
recompute statuses offline from an exported log. It must stay free of I/O and of the clock.

Stage words follow those of the government's own reports (alleged, awaiting verification, awaiting PPK,
sanctioned, not proven, cancelled, rejected, already out of service).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, cast

from pydantic import BaseModel, ConfigDict

from shared.events import Envelope


class Stage(StrEnum):
    ALLEGED = "alleged"
    AWAITING_VERIFICATION = "awaiting_verification"
    AWAITING_EXAMINATION = "awaiting_examination"
    AWAITING_PPK = "awaiting_ppk"
    SANCTIONED = "sanctioned"
    NOT_PROVEN = "not_proven"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    OUT_OF_SERVICE = "out_of_service"


CLOSED_STAGES = frozenset({Stage.SANCTIONED, Stage.NOT_PROVEN, Stage.CANCELLED, Stage.REJECTED, Stage.OUT_OF_SERVICE})


class StageChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    stage: Stage
    at: str
    event_id: str
    event_type: str
    reason: str | None = None


class CaseStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    nip: str
    election_code: str
    agency_code: str | None = None
    province: str | None = None
    # Whether intake found the NIP in its roster; False flags a case on someone missing from it,
    # None means intake had no roster loaded.
    nip_in_roster: bool | None = None
    stage: Stage
    opened_at: str
    updated_at: str
    report_ids: tuple[str, ...] = ()
    violation_codes: tuple[str, ...] = ()
    reporter_categories: tuple[str, ...] = ()
    history: tuple[StageChange, ...] = ()
    # The reported civil servant's clarification before the finding: "given" or "declined", and its day
    # (its words stay with the examining authority: services/recommendation).
    clarification: str | None = None
    clarified_on: str | None = None
    # Examination and recommendation.
    examining_authority: str | None = None
    category: str | None = None
    recommended_level: str | None = None
    recommendation_number: str | None = None
    legal_basis: str | None = None
    # The PPK's deadline.
    due_date: str | None = None
    deadline_suspended: bool = False
    warned: bool = False
    overdue: bool = False
    # The follow-up.
    decree_number: str | None = None
    imposed_level: str | None = None
    lighter_than_recommended: bool = False
    followed_up_late: bool = False
    # Personnel-data block arising from this case.
    blocked: bool = False
    blocked_since: str | None = None
    # A block from this case was lifted (by the follow-up or by hand): the figures count unblocked cases.
    unblocked: bool = False
    # What BKN's reconciliation tells apart: blocked at some point; a block lifted after the PPK's (late)
    # follow-up; a block lifted by hand; and BKN's recorded decision not to block.
    ever_blocked: bool = False
    unblocked_after_followup: bool = False
    unblocked_by_hand: bool = False
    block_declined: bool = False
    events_applied: int = 0
    last_event_id: str | None = None

    @property
    def is_open(self) -> bool:
        return self.stage not in CLOSED_STAGES


def _merge(existing: tuple[str, ...], new: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(existing) | set(new)))


# An applier's answer: the status it starts from and what the event changes in it. ``apply`` makes the one
# copy, with its own bookkeeping, so that an event costs one copy of the status, not two.
Changed = tuple[CaseStatus, dict[str, Any]]


def _moved(status: CaseStatus, stage: Stage, envelope: Envelope, reason: str | None = None, **changes: Any) -> Changed:
    history = status.history
    if stage != status.stage or not history:
        history = (*history, StageChange(stage=stage, at=envelope.time, event_id=envelope.id,
                                         event_type=envelope.type, reason=reason))
    return status, {"stage": stage, "history": history, **changes}


def _roster_flag(status: CaseStatus, data: dict[str, Any]) -> bool | None:
    """The latest event that knows whether the NIP is in the roster says so; the others keep what was known."""
    flag = data.get("nip_in_roster")
    return status.nip_in_roster if flag is None else flag


def _on_case_opened(status: CaseStatus | None, envelope: Envelope) -> Changed:
    data = envelope.data
    if status is not None:  # the report arrived first (not expected, but order must not matter)
        return status, {"opened_at": data["opened_at"], "nip_in_roster": _roster_flag(status, data)}
    opened = CaseStatus(
        case_id=data["case_id"],
        nip=data["nip"],
        election_code=data["election_code"],
        agency_code=data.get("agency_code"),
        province=data.get("province"),
        nip_in_roster=data.get("nip_in_roster"),
        stage=Stage.ALLEGED,
        opened_at=envelope.time,
        updated_at=envelope.time,
    )
    return _moved(opened, Stage.ALLEGED, envelope)


def _on_report_received(status: CaseStatus | None, envelope: Envelope) -> Changed:
    data = envelope.data
    if status is None:
        status = CaseStatus(
            case_id=data["case_id"],
            nip=data["nip"],
            election_code=data["election_code"],
            agency_code=data.get("agency_code"),
            province=data.get("province"),
            stage=Stage.ALLEGED,
            opened_at=envelope.time,
            updated_at=envelope.time,
        )
    changes: dict[str, Any] = {
        "report_ids": _merge(status.report_ids, [data["report_id"]]),
        "violation_codes": _merge(status.violation_codes, data["violation_codes"]),
        "reporter_categories": _merge(status.reporter_categories, [data["reporter_category"]]),
        "agency_code": status.agency_code or data.get("agency_code"),
        "province": status.province or data.get("province"),
        "nip_in_roster": _roster_flag(status, data),
    }
    if status.stage == Stage.ALLEGED:
        return _moved(status, Stage.AWAITING_VERIFICATION, envelope, **changes)
    return status, changes


_VERIFICATION_STAGES = {
    "accepted": Stage.AWAITING_EXAMINATION,
    "rejected": Stage.REJECTED,
    "cancelled": Stage.CANCELLED,
    "out_of_service": Stage.OUT_OF_SERVICE,
}


def _on_verification(status: CaseStatus, envelope: Envelope) -> Changed:
    data = envelope.data
    return _moved(status, _VERIFICATION_STAGES[data["outcome"]], envelope, reason=data.get("reason"))


def _on_examined(status: CaseStatus, envelope: Envelope) -> Changed:
    data = envelope.data
    changes = {"examining_authority": data["examining_authority"], "category": data.get("category"),
               "legal_basis": data.get("legal_basis")}
    if data["outcome"] == "not_proven":
        return _moved(status, Stage.NOT_PROVEN, envelope, reason=data.get("reason"), **changes)
    return status, {**changes, "recommended_level": data.get("sanction_level")}


def _on_clarification(status: CaseStatus, envelope: Envelope) -> Changed:
    return status, {"clarification": envelope.data["outcome"], "clarified_on": envelope.data["clarified_on"]}


def _on_recommendation(status: CaseStatus, envelope: Envelope) -> Changed:
    data = envelope.data
    return _moved(
        status, Stage.AWAITING_PPK, envelope,
        reason=f"{data['category']} / {data['sanction_level']} ({data['legal_basis']})",
        recommendation_number=data["recommendation_number"], recommended_level=data["sanction_level"],
        category=data["category"], legal_basis=data["legal_basis"],
        agency_code=status.agency_code or data.get("agency_code"),
    )


def _on_deadline(status: CaseStatus, envelope: Envelope) -> Changed:
    data = envelope.data
    changes: dict[str, Any] = {}
    if "due_date" in data:
        changes["due_date"] = data["due_date"]
    if envelope.type == "sbt.followup.deadline_suspended.v1":
        changes["deadline_suspended"] = True
    elif envelope.type in ("sbt.followup.deadline_resumed.v1", "sbt.followup.deadline_set.v1"):
        changes["deadline_suspended"] = False
    if envelope.type in ("sbt.followup.deadline_resumed.v1", "sbt.followup.deadline_extended.v1"):
        changes["overdue"] = False  # the due date moved into the future again
    return status, changes


def _on_warning(status: CaseStatus, envelope: Envelope) -> Changed:
    return status, {"warned": True}


def _on_overdue(status: CaseStatus, envelope: Envelope) -> Changed:
    return status, {"overdue": True}


def _on_followup(status: CaseStatus, envelope: Envelope) -> Changed:
    data = envelope.data
    reason = f"SK {data['decree_number']}: {data['sanction_level']}"
    if data.get("lighter_than_recommended"):
        reason += f" (lighter than recommended {data['recommended_level']}: {data.get('reason')})"
    return _moved(
        status, Stage.SANCTIONED, envelope, reason=reason,
        decree_number=data["decree_number"], imposed_level=data["sanction_level"],
        lighter_than_recommended=data.get("lighter_than_recommended", False),
        followed_up_late=data.get("late", False), overdue=False,
    )


def _on_blocked(status: CaseStatus, envelope: Envelope) -> Changed:
    return status, {"blocked": True, "blocked_since": envelope.data["blocked_at"], "ever_blocked": True}


def _on_unblocked(status: CaseStatus, envelope: Envelope) -> Changed:
    lift = "unblocked_after_followup" if envelope.data.get("cause") == "followup" else "unblocked_by_hand"
    return status, {"blocked": False, "blocked_since": None, "unblocked": True, lift: True}


def _on_block_declined(status: CaseStatus, envelope: Envelope) -> Changed:
    return status, {"block_declined": True}


# Events that can arrive before the case is known to this projection only when the log is damaged;
# they are kept out of the case's status rather than inventing a case.
_NEEDS_CASE: dict[str, Callable[[CaseStatus, Envelope], Changed]] = {
    "sbt.case.verification_decided.v1": _on_verification,
    "sbt.case.clarification_recorded.v1": _on_clarification,
    "sbt.case.examined.v1": _on_examined,
    "sbt.recommendation.issued.v1": _on_recommendation,
    "sbt.followup.deadline_set.v1": _on_deadline,
    "sbt.followup.deadline_suspended.v1": _on_deadline,
    "sbt.followup.deadline_resumed.v1": _on_deadline,
    "sbt.followup.deadline_extended.v1": _on_deadline,
    "sbt.followup.warning.v1": _on_warning,
    "sbt.followup.overdue.v1": _on_overdue,
    "sbt.followup.recorded.v1": _on_followup,
    "sbt.personnel.blocked.v1": _on_blocked,
    "sbt.personnel.unblocked.v1": _on_unblocked,
    "sbt.block.declined.v1": _on_block_declined,
}

# Events that may open a case's status.
_OPENERS: dict[str, Callable[[CaseStatus | None, Envelope], Changed]] = {
    "sbt.case.opened.v1": _on_case_opened,
    "sbt.report.received.v1": _on_report_received,
}

APPLIERS = {**_OPENERS, **_NEEDS_CASE}


def _step(status: CaseStatus | None, envelope: Envelope) -> Changed | None:
    """The fold itself: the status ``envelope`` starts from and everything it changes there, bookkeeping
    included; None when it changes nothing. ``apply`` and ``apply_in_place`` only differ in how they keep it."""
    if envelope.type not in APPLIERS:
        return None
    if status is not None and status.last_event_id == envelope.id:
        return None  # applying the same event twice changes nothing
    if envelope.type in _OPENERS:
        base, changes = _OPENERS[envelope.type](status, envelope)
    elif status is None:
        return None
    else:
        base, changes = _NEEDS_CASE[envelope.type](status, envelope)
    changes.update(updated_at=envelope.time, events_applied=base.events_applied + 1, last_event_id=envelope.id)
    return base, changes


def apply(status: CaseStatus | None, envelope: Envelope) -> CaseStatus | None:
    """The case's status after ``envelope``; events that do not concern a case's status leave it as it is."""
    step = _step(status, envelope)
    if step is None:
        return status
    base, changes = step
    return base.model_copy(update=changes)


class StatusDraft:
    """A case's status while a run of events is folded into it: the fields of ``CaseStatus``, changed in
    place by ``apply_in_place`` instead of copied per event; ``status()`` makes the model once, at the end.
    The appliers read it as they read a status (the same attributes). It holds nothing but the fields: a
    replay keeps a hundred thousand of them."""

    def __init__(self, status: CaseStatus) -> None:
        self.__dict__.update(status.__dict__)

    def status(self) -> CaseStatus:
        # A copy with every field replaced, as ``apply`` makes its copies: half the cost of constructing one.
        return _TEMPLATE.model_copy(update=self.__dict__)


_TEMPLATE = CaseStatus(case_id="", nip="", election_code="", stage=Stage.ALLEGED, opened_at="", updated_at="")


def apply_in_place(draft: StatusDraft | None, envelope: Envelope) -> tuple[StatusDraft | None, bool]:
    """``apply`` on a draft: the draft after ``envelope`` (the same one, changed, unless the event opens the
    status) and whether the event changed anything. ``draft.status()`` is then exactly what ``apply`` gives."""
    step = _step(cast("CaseStatus | None", draft), envelope)  # a draft reads as the status it holds
    if step is None:
        return draft, False
    base, changes = step
    if draft is None or base is not cast(object, draft):  # an opener made the status
        draft = StatusDraft(base)
    draft.__dict__.update(changes)
    return draft, True
