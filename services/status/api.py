"""The status service's routes: the shared status per civil servant and each case's timeline."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.status import blocks
from services.status.ledger import service as ledger
from services.status.models import CaseRow, LoggedEvent
from services.status.schemas import ActiveBlock, AsnStatus, Timeline, TimelineEntry, summary_of
from shared import nip as nip_rules
from shared.auth import Actor, require
from shared.authz import may_see_case, scope_of
from shared.problems import Problem
from shared.service import RuntimeDep
from shared.status_model import CaseStatus

router = APIRouter(prefix="/v1", tags=["status"])

CanReadStatus = Annotated[Actor, Depends(require("status:read"))]
CanReadTimeline = Annotated[Actor, Depends(require("timeline:read"))]
WithProofs = Annotated[bool, Query(description="include each event's inclusion proof in the ledger")]


async def _position(session: AsyncSession, runtime) -> int:  # noqa: ANN001
    position = runtime.tables.consumer_position
    value = await session.scalar(select(position.c.stream_seq).where(position.c.consumer == runtime.name))
    return int(value or 0)


@router.get("/asn/{nip}/status", response_model=AsnStatus, summary="The shared status of one civil servant",
            responses={422: {"description": "the NIP is invalid"}})
async def asn_status(
    nip: Annotated[str, Path(max_length=40, description="18-digit NIP")],
    actor: CanReadStatus,
    runtime: RuntimeDep,
    proofs: WithProofs = False,
) -> AsnStatus:
    try:
        value = nip_rules.parse(nip).value
    except nip_rules.InvalidNip as error:
        raise Problem.field("nip", error.reason) from None
    async with runtime.sessions() as session:
        rows = (await session.scalars(select(CaseRow).where(CaseRow.nip == value))).all()
        active_blocks = await blocks.active(session, nip=value)
        # A PPK sees only its own agency's cases (and blocks arising from them), nothing of another's.
        rows, active_blocks = scope_of(actor, "status:read").civil_servant(rows, active_blocks)
        position = await _position(session, runtime)
        evidence = await _case_events(session, rows) if proofs else []
        checkpoint, proven = await ledger.evidence(runtime, session, evidence, proofs)
    states = [CaseStatus.model_validate_json(row.state) for row in rows]
    states.sort(key=lambda s: s.opened_at, reverse=True)
    states.sort(key=lambda s: not s.is_open)  # stable: open first, newest first within each
    return AsnStatus(
        nip=value,
        blocked=bool(active_blocks),
        blocks=[ActiveBlock(block_id=b.block_id, case_id=b.case_id, cause=b.cause, reason=b.reason, since=b.blocked_at)
                for b in active_blocks],
        open_cases=sum(1 for s in states if s.is_open),
        cases=[summary_of(s) for s in states],
        stream_position=position,
        checkpoint=checkpoint,
        proofs=proven,
    )


async def _case_events(session: AsyncSession, rows: list[CaseRow]) -> list[tuple[int, str]]:
    """The logged events the given case rows were folded from (none newer than the row)."""
    if not rows:
        return []
    upto = {row.case_id: row.last_stream_seq for row in rows}
    found = await session.execute(
        select(LoggedEvent.subject, LoggedEvent.stream_seq, LoggedEvent.envelope)
        .where(LoggedEvent.subject.in_(list(upto)))
        .order_by(LoggedEvent.stream_seq)
    )
    return [(seq, envelope) for subject, seq, envelope in found if seq <= upto[subject]]


@router.get("/cases/{case_id}/timeline", response_model=Timeline, summary="Every event of a case, in order",
            responses={404: {"description": "no such case"}})
async def case_timeline(
    case_id: Annotated[str, Path(max_length=40)],
    actor: CanReadTimeline,
    runtime: RuntimeDep,
    proofs: WithProofs = False,
) -> Timeline:
    async with runtime.sessions() as session:
        row = await session.get(CaseRow, case_id)
        if row is None or not may_see_case(actor, "timeline:read", row.agency_code):
            raise Problem(404, "not found", f"no case {case_id}")
        events = (
            await session.scalars(
                select(LoggedEvent).where(LoggedEvent.subject == case_id).order_by(LoggedEvent.stream_seq)
            )
        ).all()
        position = await _position(session, runtime)
        checkpoint, proven = await ledger.evidence(runtime, session, [(e.stream_seq, e.envelope) for e in events], proofs)
    entries = []
    for event in events:
        document = orjson.loads(event.envelope)
        entries.append(
            TimelineEntry(
                stream_seq=event.stream_seq,
                id=event.event_id,
                type=event.event_type,
                source=document["source"],
                time=event.time,
                producerseq=event.producerseq,
                prevhash=event.prevhash,
                hash=event.hash,
                traceparent=document.get("traceparent"),
                data=document["data"],
            )
        )
    return Timeline(case_id=case_id, stage=row.stage, events=entries, stream_position=position, checkpoint=checkpoint,
                    proofs=proven)
