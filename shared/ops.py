"""Operator endpoints every service carries, behind the admin role: its dead letters (list, replay one or
all), its outbox backlog and its consumer's lag.

A replay re-applies the stored message through the consumer's own handler, in one transaction with the
inbox and with the dead letter's ``replayed_at``: either the event takes effect and the dead letter is
closed, or nothing changes and the error is kept for the next attempt. An event applied in the meantime
(e.g. redelivered) is found in the inbox and the dead letter is simply closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from nats.aio.msg import Msg
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Row, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import metrics
from shared.auth import Actor, require
from shared.db import utcnow
from shared.messaging import dead_letters
from shared.messaging.consumer import Delivery
from shared.problems import Problem

if TYPE_CHECKING:
    from shared.service import Runtime

router = APIRouter(prefix="/v1/ops", tags=["ops"])

CanReadOps = Annotated[Actor, Depends(require("ops:read"))]
CanWriteOps = Annotated[Actor, Depends(require("ops:write"))]


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


OpsRuntime = Annotated[Any, Depends(_runtime)]


class DeadLetter(BaseModel):
    id: int
    consumer: str
    event_id: str | None
    event_type: str | None
    nats_subject: str
    stream_seq: int
    error: str
    attempts: int
    created_at: dt.datetime
    replayed_at: dt.datetime | None


class DeadLetterList(BaseModel):
    service: str
    open: int = Field(description="Dead letters not yet replayed (all of them, whatever the filter).")
    items: list[DeadLetter]


class ReplayOutcome(BaseModel):
    id: int
    outcome: Literal["applied", "already_applied", "failed"]
    error: str | None = None


class ReplayReport(BaseModel):
    service: str
    replayed: int
    failed: int
    outcomes: list[ReplayOutcome]


class OutboxBacklog(BaseModel):
    unsent: int
    oldest_created_at: dt.datetime | None
    oldest_age_seconds: float


class ConsumerLag(BaseModel):
    name: str
    num_pending: int | None = Field(description="Stream messages not yet delivered; None when NATS is unreachable.")
    num_ack_pending: int | None
    num_redelivered: int | None
    stream_position: int = Field(description="The last stream sequence this service committed.")


class Backlog(BaseModel):
    service: str
    bus_connected: bool
    outbox: OutboxBacklog
    consumer: ConsumerLag | None
    dead_letters_open: int


@dataclass
class _StoredMessage:
    """The parts of a NATS message the consumer's decoder reads, rebuilt from a dead-letter row."""

    subject: str
    data: bytes


async def open_dead_letter_count(runtime: Runtime) -> int:
    return await dead_letters.open_dead_letter_count(runtime.sessions, runtime.messaging)


async def list_dead_letters(
    runtime: Runtime, *, state: Literal["open", "replayed", "all"] = "open", limit: int = 100
) -> list[DeadLetter]:
    table = runtime.messaging.dead_letters
    query = select(table).order_by(table.c.id).limit(limit)
    if state == "open":
        query = query.where(table.c.replayed_at.is_(None))
    elif state == "replayed":
        query = query.where(table.c.replayed_at.is_not(None))
    async with runtime.sessions() as session:
        rows = (await session.execute(query)).mappings().all()
    return [DeadLetter.model_validate({k: v for k, v in row.items() if k != "payload"}) for row in rows]


async def replay(runtime: Runtime, dead_letter_id: int) -> ReplayOutcome:
    """Re-apply one dead letter through the consumer's handler (see the module docstring)."""
    consumer = runtime.consumer
    table = runtime.messaging.dead_letters
    if consumer is None:
        raise Problem(409, "nothing to replay", f"{runtime.name} consumes no events")
    try:
        async with runtime.sessions.begin() as session:
            row = await _lock(session, table, dead_letter_id)
            if row is None:
                raise Problem(404, "not found", f"no dead letter {dead_letter_id}")
            if row.replayed_at is not None:
                raise Problem(409, "already replayed", f"dead letter {dead_letter_id} was replayed at {row.replayed_at}")
            # The decoder reads only subject and data, which the stored message has (it is never acked).
            stored = cast(Msg, _StoredMessage(row.nats_subject, row.payload.encode()))
            delivery = Delivery(stored, row.stream_seq, row.attempts)
            envelope = await consumer._apply(session, delivery)  # noqa: SLF001 - the consumer's own apply step
            await session.execute(update(table).where(table.c.id == dead_letter_id).values(replayed_at=utcnow()))
    except Problem:
        raise
    except Exception as error:  # noqa: BLE001 - the transaction rolled back; keep the error for the operator
        message = f"{type(error).__name__}: {error}"[:4000]
        async with runtime.sessions.begin() as session:
            await session.execute(
                update(table)
                .where(table.c.id == dead_letter_id)
                .values(error=f"replay failed: {message}", attempts=table.c.attempts + 1)
            )
        metrics.EVENTS_REPLAYED.labels("failed").inc()
        return ReplayOutcome(id=dead_letter_id, outcome="failed", error=message)
    runtime.live_relay.wake()  # a handler may have staged events of its own
    if envelope is not None:
        consumer.observe([delivery], [envelope])
    outcome: Literal["applied", "already_applied"] = "applied" if envelope is not None else "already_applied"
    metrics.EVENTS_REPLAYED.labels(outcome).inc()
    return ReplayOutcome(id=dead_letter_id, outcome=outcome)


async def _lock(session: AsyncSession, table: Table, dead_letter_id: int) -> Row[Any] | None:
    # The row lock keeps two operators (or two replicas) from replaying the same dead letter twice.
    query = select(table).where(table.c.id == dead_letter_id).with_for_update()
    return (await session.execute(query)).one_or_none()


async def replay_all(runtime: Runtime) -> ReplayReport:
    """Replay every open dead letter in stream order, each in its own transaction, so that one that still
    fails does not hold back the others."""
    table = runtime.messaging.dead_letters
    async with runtime.sessions() as session:
        ids = (
            await session.scalars(select(table.c.id).where(table.c.replayed_at.is_(None)).order_by(table.c.stream_seq))
        ).all()
    outcomes = [await replay(runtime, dead_letter_id) for dead_letter_id in ids]
    failed = sum(1 for o in outcomes if o.outcome == "failed")
    return ReplayReport(service=runtime.name, replayed=len(outcomes) - failed, failed=failed, outcomes=outcomes)


async def backlog(runtime: Runtime) -> Backlog:
    count, oldest = await runtime.live_relay.backlog()
    age = max((dt.datetime.now(dt.UTC) - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    lag = None
    if runtime.consumer is not None:
        name = runtime.consumer.name
        position = runtime.messaging.consumer_position
        async with runtime.sessions() as session:
            seq = await session.scalar(select(position.c.stream_seq).where(position.c.consumer == name))
        lag = ConsumerLag(name=name, num_pending=None, num_ack_pending=None, num_redelivered=None,
                          stream_position=int(seq or 0))
        if runtime.live_bus.connected:
            with contextlib.suppress(Exception):
                info = await asyncio.wait_for(runtime.live_bus.jetstream.consumer_info(runtime.live_bus.settings.stream_name, name), 2)
                lag.num_pending = info.num_pending or 0
                lag.num_ack_pending = info.num_ack_pending or 0
                lag.num_redelivered = info.num_redelivered or 0
    return Backlog(
        service=runtime.name,
        bus_connected=runtime.live_bus.connected,
        outbox=OutboxBacklog(unsent=count, oldest_created_at=oldest, oldest_age_seconds=round(age, 3)),
        consumer=lag,
        dead_letters_open=await open_dead_letter_count(runtime),
    )


@router.get("/dead-letters", response_model=DeadLetterList, summary="This service's dead letters")
async def get_dead_letters(
    actor: CanReadOps,
    runtime: OpsRuntime,
    state: Annotated[Literal["open", "replayed", "all"], Query(description="which dead letters")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeadLetterList:
    items = await list_dead_letters(runtime, state=state, limit=limit)
    return DeadLetterList(service=runtime.name, open=await open_dead_letter_count(runtime), items=items)


@router.post("/dead-letters/replay", response_model=ReplayReport, summary="Replay every open dead letter")
async def post_replay_all(actor: CanWriteOps, runtime: OpsRuntime) -> ReplayReport:
    return await replay_all(runtime)


@router.post("/dead-letters/{dead_letter_id}/replay", response_model=ReplayOutcome,
             summary="Replay one dead letter through the consumer's handler",
             responses={404: {"description": "no such dead letter"}, 409: {"description": "already replayed"}})
async def post_replay_one(
    dead_letter_id: Annotated[int, Path(ge=1, le=2**63 - 1)], actor: CanWriteOps, runtime: OpsRuntime
) -> ReplayOutcome:
    return await replay(runtime, dead_letter_id)


@router.get("/backlog", response_model=Backlog, summary="Outbox backlog, consumer lag and open dead letters")
async def get_backlog(actor: CanReadOps, runtime: OpsRuntime) -> Backlog:
    return await backlog(runtime)
