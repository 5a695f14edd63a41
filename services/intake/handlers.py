"""Intake consumes the case events of the other services only to know each case's stage for the public
complaint check. Its own events (case opened, report received) are folded into that stage in the very
transaction that files the report (services/intake/filing.py), so intake never waits for them to come back
from the bus, and never spends a consumer's work on what it already knows."""

from __future__ import annotations


from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import PublicCaseStage
from shared.events import EVENT_MODELS, EventData
from shared.messaging.consumer import HandlerTable, Incoming
from shared.status_model import CaseStatus, apply


class CaseNotYetKnown(Exception):
    """An event of a case arrived before the case's opening: retried until the opening is applied."""


async def fold_stage(session: AsyncSession, event: Incoming[EventData]) -> None:
    envelope = event.envelope
    if envelope.data.get("case_id") is None:  # e.g. a block made by hand, not arising from a case
        return
    row = await session.get(PublicCaseStage, envelope.subject, with_for_update=True)
    before = CaseStatus.model_validate_json(row.state) if row is not None else None
    after = apply(before, envelope)
    if after is None:
        raise CaseNotYetKnown(f"{envelope.type} for case {envelope.subject} before the case was opened")
    if after is before:
        return
    if row is None:
        row = PublicCaseStage(case_id=after.case_id)
        session.add(row)
    row.stage = after.stage.value
    row.state = after.model_dump_json()
    row.last_stream_seq = max(event.stream_seq, row.last_stream_seq or 0)


def _is_case_event(model: type[EventData]) -> bool:
    return "case_id" in model.model_fields


def handlers(_runtime: object) -> HandlerTable:
    return {model: fold_stage for model in EVENT_MODELS.values() if _is_case_event(model) and model.producer != "intake"}
