"""Every event type SBT knows, by its CloudEvents ``type``; and the NATS subject each travels on."""

from __future__ import annotations

from shared.events import blocking, intake, ledger, notify, recommendation, reference, retention, sanction
from shared.events.base import EventData

SUBJECT_PREFIX = "sbt.events"

_ALL: list[type[EventData]] = [
    intake.CaseOpened,
    intake.ReportReceived,
    retention.ReporterIdentityExpired,
    retention.EvidenceExpired,
    retention.CaseRetired,
    reference.AgencyRegistered,
    reference.ElectionRegistered,
    reference.ViolationRegistered,
    recommendation.VerificationDecided,
    recommendation.ClarificationRecorded,
    recommendation.CaseExamined,
    recommendation.RecommendationIssued,
    sanction.DeadlineSet,
    sanction.DeadlineSuspended,
    sanction.DeadlineResumed,
    sanction.DeadlineExtended,
    sanction.FollowupWarning,
    sanction.FollowupOverdue,
    sanction.FollowupRecorded,
    sanction.PpkReminded,
    blocking.PersonnelBlocked,
    blocking.PersonnelUnblocked,
    blocking.EscalationRaised,
    blocking.BlockDeclined,
    blocking.MoreTimeGranted,
    ledger.LedgerCheckpoint,
    notify.SubscriptionDisabled,
]

EVENT_MODELS: dict[str, type[EventData]] = {model.event_type: model for model in _ALL}


def event_model(event_type: str) -> type[EventData]:
    return EVENT_MODELS[event_type]


def nats_subject(model: type[EventData]) -> str:
    """``sbt.events.<producer>.<event>``, e.g. ``sbt.events.intake.report.received.v1``."""
    return f"{SUBJECT_PREFIX}.{model.producer}.{model.event_type.removeprefix('sbt.')}"


def producer_of_subject(subject: str) -> str | None:
    parts = subject.split(".")
    if len(parts) < 4 or f"{parts[0]}.{parts[1]}" != SUBJECT_PREFIX:
        return None
    return parts[2]
