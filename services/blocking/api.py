"""The blocking service's routes: the personnel systems' block query, BKN's manual block and unblock, and
the escalations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from sqlalchemy.exc import IntegrityError

from services.blocking import blocks, decisions, manual
from services.blocking.models import Block
from services.blocking.schemas import (
    AwaitingDecision,
    BlockOut,
    BlockStatus,
    BulkCheckIn,
    BulkCheckOut,
    BulkCheckResult,
    DecisionIn,
    DecisionOut,
    DecisionWorklist,
    EscalationList,
    EscalationOut,
    ManualBlockIn,
    ManualUnblockIn,
    UnblockResult,
)
from shared import nip as nip_rules
from shared.auth import Actor, require
from shared.problems import Problem
from shared.service import RuntimeDep

router = APIRouter(prefix="/v1", tags=["blocking"])

CanReadBlocks = Annotated[Actor, Depends(require("block:read"))]
CanWriteBlocks = Annotated[Actor, Depends(require("block:write"))]
CanReadEscalations = Annotated[Actor, Depends(require("escalation:read"))]
CanReadDecisions = Annotated[Actor, Depends(require("block-decision:read"))]
CaseIdPath = Annotated[str, Path(max_length=40, pattern=r"^[0-9A-Za-z_-]+$")]
NipPath = Annotated[str, Path(max_length=40, description="18-digit NIP")]


def _nip(raw: str) -> str:
    try:
        return nip_rules.parse(raw).value
    except nip_rules.InvalidNip as error:
        raise Problem.field("nip", error.reason) from None


def _out(block: Block) -> BlockOut:
    return BlockOut(block_id=block.block_id, case_id=block.case_id, agency_code=block.agency_code,
                    cause=block.cause, reason=block.reason, since=block.blocked_at)


def _status(nip: str, active: list[Block]) -> BlockStatus:
    return BlockStatus(nip=nip, blocked=bool(active), since=blocks.since(active), blocks=[_out(b) for b in active])


@router.get("/personnel/{nip}/block", response_model=BlockStatus,
            summary="Is this civil servant's personnel data blocked? (before every promotion or transfer)",
            responses={422: {"description": "the NIP is invalid"}})
async def block_status(nip: NipPath, actor: CanReadBlocks, runtime: RuntimeDep) -> BlockStatus:
    value = _nip(nip)
    async with runtime.sessions() as session:
        active = list(await blocks.active_blocks(session, nip=value))
    return _status(value, active)


@router.post("/personnel/blocks/check", response_model=BulkCheckOut,
             summary="Are these civil servants blocked? Up to 1,000 NIPs at once",
             responses={422: {"description": "a NIP is invalid (the field names its position)"}})
async def bulk_check(body: BulkCheckIn, actor: CanReadBlocks, runtime: RuntimeDep) -> BulkCheckOut:
    """Served from memory by the hot path (services/blocking/hot_path.py) once the block index is loaded;
    this route answers from the database until then, with the same body."""
    values = []
    for position, raw in enumerate(body.nips):
        try:
            values.append(nip_rules.parse(raw).value)
        except nip_rules.InvalidNip as error:
            raise Problem.field(f"nips.{position}", error.reason) from None
    async with runtime.sessions() as session:
        active = await blocks.active_blocks_of(session, nips=set(values))
    results = [BulkCheckResult(nip=v, blocked=v in active, since=active.get(v)) for v in values]
    return BulkCheckOut(checked=len(results), blocked=sum(r.blocked for r in results), results=results)


@router.post("/personnel/{nip}/block", response_model=BlockOut, status_code=status.HTTP_201_CREATED,
             summary="Block a civil servant's personnel data by hand (BKN), with a reason",
             responses={409: {"description": "already blocked for that case (or by hand, outside any case)"},
                        422: {"description": "a field is invalid"}})
async def manual_block(nip: NipPath, body: ManualBlockIn, actor: CanWriteBlocks, runtime: RuntimeDep) -> BlockOut:
    return _out(await manual.block(runtime=runtime, nip=_nip(nip), request=body, actor=actor))


@router.post("/personnel/{nip}/unblock", response_model=UnblockResult,
             summary="Lift a block by hand (BKN), with a reason",
             responses={404: {"description": "no such block for this NIP"},
                        409: {"description": "nothing to lift: not blocked, or the block was already lifted"},
                        422: {"description": "a field is invalid"}})
async def manual_unblock(nip: NipPath, body: ManualUnblockIn, actor: CanWriteBlocks,
                         runtime: RuntimeDep) -> UnblockResult:
    value = _nip(nip)
    lifted, active = await manual.lift(runtime=runtime, nip=value, request=body, actor=actor)
    return UnblockResult(nip=value, lifted=[b.block_id for b in lifted], blocked=len(lifted) < active)


@router.get("/blocking/worklist", response_model=DecisionWorklist,
            summary="BKN's blocking worklist: overdue cases awaiting a decision (block, more time, or why not)")
async def blocking_worklist(
    actor: CanReadDecisions,
    runtime: RuntimeDep,
    agency: Annotated[str | None, Query(max_length=40, description="only this agency")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DecisionWorklist:
    """Empty under SBT_BLOCKING_POLICY=automatic, where every overdue case is blocked at once."""
    total, rows = await decisions.worklist(runtime=runtime, agency=agency, limit=limit, offset=offset)
    today = runtime.clock.today()
    return DecisionWorklist(total=total, items=[
        AwaitingDecision(case_id=r.case_id, nip=r.nip, agency_code=r.agency_code, due_date=r.due_date,
                         working_days_overdue=runtime.calendar.working_days_between(r.due_date, today)
                         if r.due_date else None)
        for r in rows
    ])


@router.post("/cases/{case_id}/blocking-decision", response_model=DecisionOut, status_code=status.HTTP_201_CREATED,
             summary="BKN decides on an overdue case: block, more time (a deadline extension), or why not",
             responses={404: {"description": "no such overdue case"},
                        409: {"description": "the case is not awaiting a decision (followed up, decided, not overdue)"},
                        422: {"description": "a field is invalid"}})
async def blocking_decision(case_id: CaseIdPath, body: DecisionIn, actor: CanWriteBlocks,
                            runtime: RuntimeDep) -> DecisionOut:
    """Each decision is an event: ``sbt.personnel.blocked.v1``, ``sbt.block.time_granted.v1`` (the sanction
    service then extends the deadline) or ``sbt.block.declined.v1``, with the reason, on the case's timeline."""
    try:
        decided = await decisions.decide(runtime=runtime, case_id=case_id, body=body, actor=actor)
    except IntegrityError:  # a block by hand under the same case committed first
        raise Problem(409, "already blocked", f"case {case_id} is already blocked") from None
    case = decided.case
    return DecisionOut(case_id=case.case_id, decision=case.decision, block_id=decided.block_id,
                       decided_at=case.decided_at)


@router.get("/escalations", response_model=EscalationList,
            summary="Escalations to the President: agencies whose PPK left too many cases overdue")
async def list_escalations(
    actor: CanReadEscalations,
    runtime: RuntimeDep,
    agency: Annotated[str | None, Query(max_length=40, description="only this agency")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EscalationList:
    async with runtime.sessions() as session:
        rows = await blocks.escalations(session, agency_code=agency, limit=limit)
    return EscalationList(escalations=[
        EscalationOut(escalation_id=r.escalation_id, agency_code=r.agency_code, overdue_case_ids=r.overdue_case_ids,
                      threshold=r.threshold, raised_at=r.raised_at)
        for r in rows
    ])
