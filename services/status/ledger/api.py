"""The ledger's routes: the signed checkpoint, inclusion and consistency proofs, witnesses' co-signatures,
and the full log for ``sbt export``."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select

from services.status.ledger import service
from services.status.ledger.archive import archive_lines
from services.status.ledger.schemas import (
    CheckpointList,
    ConsistencyProof,
    CosignatureIn,
    InclusionProof,
    LedgerEntries,
    LedgerEntry,
    Fork,
    ForkList,
    ForkResolution,
    ForkResolved,
    LedgerKeys,
    StatusPage,
)
from services.status.models import CaseRow, LoggedEvent
from shared.auth import Actor, require
from shared.ledger.checkpoint import Checkpoint
from shared.problems import Problem
from shared.service import RuntimeDep

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
forks_router = APIRouter(prefix="/v1/ops/forks", tags=["ops"])

CanRead = Annotated[Actor, Depends(require("ledger:read"))]
CanExport = Annotated[Actor, Depends(require("ledger:export"))]
CanWitness = Annotated[Actor, Depends(require("ledger:witness"))]
CanOperate = Annotated[Actor, Depends(require("ops:write"))]
CanReadOps = Annotated[Actor, Depends(require("ops:read"))]


@router.get("/checkpoint", response_model=Checkpoint, summary="A signed checkpoint of the ledger as it is now")
async def checkpoint(actor: CanRead, runtime: RuntimeDep) -> Checkpoint:
    async with runtime.sessions() as session:
        return await service.current_checkpoint(runtime, session)


@router.get("/checkpoints", response_model=CheckpointList,
            summary="Published checkpoints with their witnesses' co-signatures, oldest first")
async def checkpoints(
    actor: CanRead, runtime: RuntimeDep,
    after_size: Annotated[int, Query(ge=-1, le=2**62, description="only checkpoints of a larger tree")] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> CheckpointList:
    async with runtime.sessions() as session:
        found = await service.published(session, service.ledger_of(runtime).ledger.tables, after_size=after_size,
                                        limit=limit)
    return CheckpointList(checkpoints=found)


@router.post("/checkpoints", response_model=Checkpoint, status_code=201,
             summary="Sign and publish a checkpoint now (200 with the latest one if the tree has not grown)",
             responses={200: {"description": "the tree has not grown since the latest checkpoint"}})
async def publish_checkpoint(actor: CanOperate, runtime: RuntimeDep):  # noqa: ANN201
    published, created = await service.publish(runtime, only_if_grown=False)
    if not created:
        return JSONResponse(published.model_dump(mode="json"), status_code=200)
    return published


@router.post("/cosignatures", response_model=Checkpoint, status_code=201,
             summary="A witness co-signs a checkpoint it checked against the last one it co-signed",
             responses={422: {"description": "a signature does not verify, or the checkpoint is not this log's"}})
async def cosign(body: CosignatureIn, actor: CanWitness, runtime: RuntimeDep) -> Checkpoint:
    try:
        return await service.add_cosignature(runtime, body.checkpoint, body.cosignature)
    except service.CosignatureRefused as refused:
        raise Problem.field(refused.field, refused.reason) from None


@router.get("/keys", response_model=LedgerKeys,
            summary="The public keys checkpoints are signed with, the witnesses' and every producer's")
async def keys(actor: CanRead, runtime: RuntimeDep) -> LedgerKeys:
    signer = service.ledger_of(runtime).signer
    return LedgerKeys(log_id=signer.log_id, keys={signer.key_id: signer.public_pem},
                      witnesses=dict(runtime.settings.ledger_witness_keys),
                      producers=runtime.producer_keys.document())


@router.get("/proofs/inclusion", response_model=InclusionProof, summary="Proof that an event is in the ledger",
            responses={404: {"description": "the event is not in the ledger"},
                       422: {"description": "tree_size is outside the tree"}})
async def inclusion(
    actor: CanRead, runtime: RuntimeDep,
    event_id: Annotated[str, Query(max_length=40)],
    tree_size: Annotated[int | None, Query(ge=1, le=2**62, description="default: the current tree")] = None,
) -> InclusionProof:
    parts = service.ledger_of(runtime)
    async with runtime.sessions() as session:
        leaf = (await parts.ledger.leaves_of(session, [event_id])).get(event_id)
        if leaf is None:
            raise Problem(404, "not found", f"event {event_id} is not in the ledger")
        current = await service.current_checkpoint(runtime, session)
        size = tree_size or current.tree_size
        if size > current.tree_size:
            raise Problem.field("tree_size", f"the tree has {current.tree_size} leaves")
        if leaf[0] >= size:
            raise Problem.field("tree_size", f"event {event_id} is leaf {leaf[0]}, after a tree of {size}")
        signed = current if size == current.tree_size else \
            parts.signer.sign(size, await parts.ledger.root_at(session, size), runtime.clock.now())
        path = (await parts.ledger.inclusion_proofs(session, [leaf[0]], size))[leaf[0]]
    return InclusionProof(event_id=event_id, leaf_index=leaf[0], tree_size=size, event_hash=leaf[1],
                          audit_path=[h.hex() for h in path], checkpoint=signed)


@router.get("/proofs/consistency", response_model=ConsistencyProof,
            summary="Proof that the tree of size `second` extends the tree of size `first`",
            responses={422: {"description": "a size is outside the tree"}})
async def consistency(
    actor: CanRead, runtime: RuntimeDep,
    first: Annotated[int, Query(ge=1, le=2**62)],
    second: Annotated[int | None, Query(ge=1, le=2**62, description="default: the current tree")] = None,
) -> ConsistencyProof:
    parts = service.ledger_of(runtime)
    async with runtime.sessions() as session:
        current = await service.current_checkpoint(runtime, session)
        second = second or current.tree_size
        if second > current.tree_size:
            raise Problem.field("second", f"the tree has {current.tree_size} leaves")
        if first > second:
            raise Problem.field("first", f"must not exceed second ({second})")
        first_root = await parts.ledger.root_at(session, first)
        second_root = await parts.ledger.root_at(session, second)
        proof = await parts.ledger.consistency_proof(session, first, second)
    signed = current if second == current.tree_size else parts.signer.sign(second, second_root, runtime.clock.now())
    return ConsistencyProof(first=first, second=second, first_root=first_root.hex(), second_root=second_root.hex(),
                            proof=[h.hex() for h in proof], checkpoint=signed)


@router.get("/entries", response_model=LedgerEntries, summary="The logged events in ledger order, for export")
async def entries(
    actor: CanExport, runtime: RuntimeDep,
    after: Annotated[int, Query(ge=-1, le=2**62, description="the last leaf index already read")] = -1,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> LedgerEntries:
    leaves = service.ledger_of(runtime).ledger.tables.leaves
    async with runtime.sessions() as session:
        rows = (await session.execute(
            select(leaves.c.leaf_index, leaves.c.stream_seq, leaves.c.event_hash, LoggedEvent.envelope)
            .join(LoggedEvent, LoggedEvent.stream_seq == leaves.c.stream_seq)
            .where(leaves.c.leaf_index > after)
            .order_by(leaves.c.leaf_index)
            .limit(limit)
        )).all()
    found = [LedgerEntry(leaf_index=r.leaf_index, stream_seq=r.stream_seq, event_hash=r.event_hash,
                         envelope=orjson.loads(r.envelope)) for r in rows]
    return LedgerEntries(entries=found, next_after=found[-1].leaf_index if len(found) == limit else None)


@router.get("/statuses", response_model=StatusPage,
            summary="Every case's status as this service holds it, for export")
async def statuses(
    actor: CanExport, runtime: RuntimeDep,
    after: Annotated[str, Query(max_length=40, pattern=r"^[0-9A-Za-z_-]*$", description="the last case id already read")] = "",
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> StatusPage:
    async with runtime.sessions() as session:
        rows = (await session.execute(
            select(CaseRow.case_id, CaseRow.state).where(CaseRow.case_id > after).order_by(CaseRow.case_id).limit(limit)
        )).all()
    return StatusPage(statuses=[orjson.loads(r.state) for r in rows],
                      next_after=rows[-1].case_id if len(rows) == limit else None)


@router.get("/archives/{election_code}", summary="A signed archive of an election's cases (sbt archive)",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}},
                             "description": "JSON lines: header, events with inclusion proofs, statuses, seal"}})
async def election_archive(
    actor: CanExport, runtime: RuntimeDep,
    election_code: Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Z0-9][A-Z0-9_\-]*$")],
) -> StreamingResponse:
    """Every logged event of the election's cases with its inclusion proof under one signed checkpoint, every
    case's final status, and a seal signed by the log's key; `sbt verify FILE` checks it offline."""
    return StreamingResponse(archive_lines(runtime, election_code), media_type="application/x-ndjson")


@forks_router.get("", response_model=ForkList,
                  summary="Forks in producers' chains: two signed events claiming one place (an alarm)")
async def list_forks(
    actor: CanReadOps, runtime: RuntimeDep,
    state: Annotated[Literal["open", "resolved", "all"], Query(description="which forks")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ForkList:
    found = await service.forks(runtime, state=state, limit=limit)
    halted = sorted({fork["producer"] for fork in await service.forks(runtime, state="open", limit=1000)})
    return ForkList(forks=[_fork(row) for row in found], halted_producers=halted)


@forks_router.post("/{fork_id}/resolve", response_model=ForkResolved,
                   summary="Record the operator's decision on a fork; the producer resumes once none is open",
                   responses={404: {"description": "no such fork"}, 409: {"description": "already resolved"}})
async def resolve_fork(
    body: ForkResolution, actor: CanOperate, runtime: RuntimeDep,
    fork_id: Annotated[int, Path(ge=1, le=2**62)],
) -> ForkResolved:
    try:
        fork, applied = await service.resolve_fork(runtime, fork_id, resolved_by=f"{actor.client_id} ({actor.agency})", note=body.note)
    except service.ForkNotFound:
        raise Problem(404, "not found", f"no fork {fork_id}") from None
    except service.ForkAlreadyResolved as error:
        raise Problem(409, "already resolved", str(error)) from None
    return ForkResolved(fork=_fork(fork), parked_events_applied=applied)


def _fork(row: dict) -> Fork:
    return Fork(**{**row, "envelope": orjson.loads(row["envelope"])})
