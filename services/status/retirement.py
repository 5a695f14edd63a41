"""A retired case (``sbt.case.retired.v1``, after its election's archive was made) leaves the status service's
books: its row goes, its lifted blocks go, and each of its logged events is cut down to what the ledger needs
to stay verifiable: id, type, producer, place in its producer's chain, hash and previous hash. The leaves
and checkpoints hold only hashes already, so the tree, every checkpoint and every producer's chain still
verify (`sbt verify` counts such events as redacted); the events themselves are in the election's archive.
The retirement event itself stays whole: it is the record of what was removed, and names the archive."""

from __future__ import annotations

import orjson
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.status.models import CaseRow, LoggedEvent, PersonnelBlock
from shared.events.retention import CaseRetired

RETIRED = CaseRetired.event_type
REDACTED_PREFIX = '{"redacted":true'


def is_redacted(envelope_text: str) -> bool:
    return envelope_text.startswith(REDACTED_PREFIX)


def stub(row: LoggedEvent) -> str:
    return orjson.dumps({"redacted": True, "id": row.event_id, "type": row.event_type, "producer": row.producer,
                         "producerseq": row.producerseq, "subject": row.subject, "time": row.time,
                         "hash": row.hash, "prevhash": row.prevhash}).decode()


async def retire(session: AsyncSession, retirements: dict[str, str]) -> None:
    """``retirements``: case id -> the id of the event retiring it. In the applying transaction."""
    if not retirements:
        return
    case_ids = list(retirements)
    await session.execute(delete(CaseRow).where(CaseRow.case_id.in_(case_ids)))
    await session.execute(delete(PersonnelBlock).where(PersonnelBlock.case_id.in_(case_ids),
                                                       PersonnelBlock.lifted_at.is_not(None)))
    rows = (await session.scalars(select(LoggedEvent).where(
        LoggedEvent.subject.in_(case_ids), LoggedEvent.event_id.not_in(list(retirements.values()))))).all()
    redactions = [{"seq": row.stream_seq, "stub": stub(row)} for row in rows if not is_redacted(row.envelope)]
    if redactions:
        table = LoggedEvent.__table__
        await session.execute(
            update(table).where(table.c.stream_seq == bindparam("seq")).values(envelope=bindparam("stub"))
            .execution_options(synchronize_session=False),
            redactions,
        )
