"""The status service consumes every case event: it logs it and folds it into the case's status with the
shared pure ``apply``."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.status import blocks, stats
from services.status.models import CaseRow, LoggedEvent
from shared.db import utcnow
from shared.events import EVENT_MODELS, Envelope
from shared.messaging.consumer import Handler, Incoming
from shared.status_model import CaseStatus, apply


async def record(session: AsyncSession, event: Incoming) -> None:
    envelope, stream_seq = event.envelope, event.stream_seq
    case_id = envelope.data.get("case_id")
    if case_id is not None and case_id != envelope.subject:
        # An event about one case filed under another would corrupt both timelines.
        raise ValueError(f"event {envelope.id}: subject {envelope.subject} is not its case {case_id}")
    session.add(
        LoggedEvent(
            stream_seq=stream_seq,
            event_id=envelope.id,
            event_type=envelope.type,
            producer=envelope.producer,
            producerseq=envelope.producerseq or 0,
            subject=envelope.subject,
            time=envelope.time,
            hash=envelope.hash or "",
            prevhash=envelope.prevhash or "",
            envelope=envelope.model_dump_json(exclude_none=True),
        )
    )
    await blocks.project(session, envelope)
    row = await session.get(CaseRow, envelope.subject, with_for_update=True)
    if row is None or stream_seq > row.last_stream_seq:
        before = CaseStatus.model_validate_json(row.state) if row is not None else None
        after = apply(before, envelope)
    else:
        # Replicas sharing the consumer may apply a case's events out of stream order: fold the case
        # again from its logged events in stream order, so the result never depends on who was first.
        before, after = None, await _refold(session, envelope.subject)
    if after is None or after is before:
        return
    if row is None:
        row = CaseRow(case_id=after.case_id)
        session.add(row)
    row.nip = after.nip
    row.election_code = after.election_code
    row.agency_code = after.agency_code
    row.province = after.province
    row.stage = after.stage.value
    row.state = after.model_dump_json()
    for column, value in stats.columns_of(after).items():
        setattr(row, column, value)
    row.last_stream_seq = max(stream_seq, row.last_stream_seq or 0)
    row.updated_at = utcnow()


async def _refold(session: AsyncSession, subject: str) -> CaseStatus | None:
    await session.flush()
    documents = await session.scalars(
        select(LoggedEvent.envelope).where(LoggedEvent.subject == subject).order_by(LoggedEvent.stream_seq)
    )
    status = None
    for document in documents:
        status = apply(status, Envelope.model_validate_json(document))
    return status


def handlers(_runtime) -> Mapping[str, Handler]:  # noqa: ANN001
    return {event_type: record for event_type in EVENT_MODELS}
