"""The blocking rules, pure: when an agency is escalated, and the words that explain a block."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class EscalationDecision:
    raise_now: bool  # stage an EscalationRaised now
    escalated: bool  # the agency stands escalated afterwards


def decide_escalation(*, overdue_cases: int, threshold: int, escalated: bool) -> EscalationDecision:
    """One escalation per crossing: raised when the count reaches the threshold while the agency is not
    escalated; the agency is re-armed only once the count drops below the threshold again."""
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    if overdue_cases >= threshold:
        return EscalationDecision(raise_now=not escalated, escalated=True)
    return EscalationDecision(raise_now=False, escalated=False)


def case_key(case_id: str) -> str:
    return f"case:{case_id}"


def nip_key(nip: str) -> str:
    return f"nip:{nip}"


def active_key(*, nip: str, case_id: str | None) -> str:
    """At most one active block per case; at most one active manual block per NIP outside any case."""
    return case_key(case_id) if case_id else nip_key(nip)


def event_subject(*, nip: str, case_id: str | None) -> str:
    """A block from a case is filed under the case (its timeline); a manual one under ``nip:<NIP>``."""
    return case_id if case_id else nip_key(nip)


def overdue_reason(due_date: dt.date) -> str:
    return f"Tindak lanjut melewati batas waktu {due_date.isoformat()}."


def followup_reason(decree_number: str) -> str:
    return f"PPK menetapkan hukuman, SK {decree_number}."
