"""Replaying a dead letter re-applies it through the consumer's handler in one transaction with the inbox
and the dead letter's replayed_at, on a real database (SQLite, or PostgreSQL with SBT_TEST_DATABASE_URL).

No bus is needed: a replay reads the stored message, never NATS."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import Column, MetaData, String, Table, func, insert, select

from shared.db import create_engine, sessionmaker, utcnow
from shared.events import GENESIS_HASH, EVENT_MODELS, Envelope, nats_subject
from shared.messaging.consumer import Consumer
from shared.messaging.tables import messaging_tables
from shared.ops import list_dead_letters, replay, replay_all
from shared.problems import Problem
from tests.harness import database
from tests.harness.signing import fixed_key, fixed_producer_keys

pytestmark = pytest.mark.e2e

RECEIVED = "sbt.report.received.v1"


class _Relay:
    """Stands in for the outbox relay, which a replay only wakes."""

    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


class _Runtime:
    def __init__(self, engine, tables, consumer) -> None:  # noqa: ANN001
        self.name = "status"
        self.sessions = sessionmaker(engine)
        self.tables = self.messaging = tables
        self.consumer = consumer
        self.relay = self.live_relay = _Relay()


def _envelope(event_id: str) -> Envelope:
    model = EVENT_MODELS[RECEIVED]
    return Envelope(
        id=event_id, source="/sbt/intake", type=RECEIVED, time="2024-10-14T08:00:00.000000Z",
        subject=model.examples[0]["case_id"], data=model.examples[0],
    ).chained(1, GENESIS_HASH, fixed_key("intake"))


@pytest.fixture
async def runtime(tmp_path):  # noqa: ANN001
    databases = database.TestDatabases(tmp_path, ["replay"])
    await databases.create()
    metadata = MetaData()
    tables = messaging_tables(metadata)
    effects = Table("effects", metadata, Column("event_id", String(40), primary_key=True))
    engine = create_engine(databases.url("replay"))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)

    broken = {"yes": True}

    async def handler(session, event) -> None:  # noqa: ANN001
        await session.execute(insert(effects).values(event_id=event.envelope.id))
        if broken["yes"]:
            raise RuntimeError("the projection cannot take this yet")

    consumer = Consumer(name="status", sessions=sessionmaker(engine), tables=tables, bus=None,
                        handlers={EVENT_MODELS[RECEIVED]: handler}, keys=fixed_producer_keys())
    runtime = _Runtime(engine, tables, consumer)
    runtime.effects, runtime.broken = effects, broken
    yield runtime
    await engine.dispose()
    await databases.drop()


async def _dead_letter(runtime, envelope: Envelope, stream_seq: int) -> int:  # noqa: ANN001
    async with runtime.sessions.begin() as session:
        result = await session.execute(
            insert(runtime.tables.dead_letters).values(
                consumer="status", event_id=envelope.id, event_type=envelope.type,
                nats_subject=nats_subject(EVENT_MODELS[envelope.type]), stream_seq=stream_seq,
                payload=orjson.dumps(envelope.model_dump(exclude_none=True)).decode(),
                error="RuntimeError: the projection cannot take this yet", attempts=5, created_at=utcnow(),
            ).returning(runtime.tables.dead_letters.c.id)
        )
        return result.scalar_one()


async def _count(runtime, table) -> int:  # noqa: ANN001
    async with runtime.sessions() as session:
        return await session.scalar(select(func.count()).select_from(table))


async def test_a_replay_that_fails_writes_nothing_and_one_that_succeeds_applies_once(runtime):
    first = await _dead_letter(runtime, _envelope("01REPLAY000000000000000001"), 7)

    failed = await replay(runtime, first)
    assert failed.outcome == "failed" and "cannot take this yet" in failed.error
    assert await _count(runtime, runtime.effects) == 0  # the handler's write was rolled back
    assert await _count(runtime, runtime.tables.inbox) == 0
    (still_open,) = await list_dead_letters(runtime)
    assert still_open.replayed_at is None and still_open.attempts == 6
    assert still_open.error.startswith("replay failed: RuntimeError")

    runtime.broken["yes"] = False  # the operator fixed the cause
    applied = await replay(runtime, first)
    assert applied.outcome == "applied"
    assert await _count(runtime, runtime.effects) == 1
    async with runtime.sessions() as session:
        inbox = (await session.execute(select(runtime.tables.inbox))).one()
    assert inbox.event_id == "01REPLAY000000000000000001" and inbox.stream_seq == 7
    assert await list_dead_letters(runtime) == []
    assert runtime.relay.woken == 1

    with pytest.raises(Problem) as again:
        await replay(runtime, first)
    assert again.value.status == 409
    with pytest.raises(Problem) as missing:
        await replay(runtime, 9999)
    assert missing.value.status == 404

    # The same event dead-lettered twice (e.g. by two replicas): the second replay only closes it.
    second = await _dead_letter(runtime, _envelope("01REPLAY000000000000000001"), 7)
    third = await _dead_letter(runtime, _envelope("01REPLAY000000000000000002"), 9)
    report = await replay_all(runtime)
    assert [(o.id, o.outcome) for o in report.outcomes] == [(second, "already_applied"), (third, "applied")]
    assert report.replayed == 2 and report.failed == 0
    assert await _count(runtime, runtime.effects) == 2
    assert len(await list_dead_letters(runtime, state="replayed")) == 3
