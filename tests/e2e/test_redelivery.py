"""A consumer's unfinished deliveries come back in seconds, not after a long ack_wait: a consumer killed in
the middle of a batch has it redelivered after SBT_REDELIVERY_SECONDS; one stopped in order gives it back at
once; and a batch that is merely slow is kept by its in-progress beats, not delivered twice. On a real
nats-server and a real database."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.status.handlers import handlers
from services.status.ledger.store import Ledger
from services.status.models import ledger as ledger_tables
from services.status.models import messaging
from shared.bus import Bus
from shared.messaging.consumer import BatchHandlers, Consumer
from services.cli.settings import SystemSettings
from tests.e2e.test_status_batches import count, databases, nats_server, publish, status_database  # noqa: F401
from tests.harness.signing import fixed_producer_keys
from tests.unit.ledger_fixtures import case_log

pytestmark = pytest.mark.e2e


class Watched(Consumer):
    """A status consumer that remembers how often each of its deliveries had been delivered."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.deliveries: list[int] = []

    async def process(self, msgs) -> None:  # noqa: ANN001
        self.deliveries += [msg.metadata.num_delivered for msg in msgs]
        await super().process(msgs)


def consumer(sessions, bus: Bus, ack_wait: float, before_apply=None) -> Watched:  # noqa: ANN001
    real = handlers(Ledger(ledger_tables, log_id="sbt-status"))

    async def apply(session, events) -> None:  # noqa: ANN001
        if before_apply is not None:
            await before_apply()
        await real.apply(session, events)

    return Watched(name="status", sessions=sessions, tables=messaging, bus=bus, keys=fixed_producer_keys(),
                   handlers=BatchHandlers(real.event_models, apply, prepare=real.prepare), ack_wait=ack_wait)


async def connected(url: str) -> Bus:
    bus = Bus(SystemSettings(nats_url=url), "status")
    await bus.connect()
    await bus.ensure_stream()
    return bus


async def until(predicate, timeout: float) -> float:  # noqa: ANN001
    """Seconds until ``predicate()`` holds (fails the test after ``timeout``)."""
    started = time.monotonic()
    while not await predicate():
        assert time.monotonic() - started < timeout, f"not within {timeout} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def stuck_in_a_batch(sessions, url: str, ack_wait: float):  # noqa: ANN001
    """A consumer that has taken the events and hangs in the middle of applying them."""
    entered = asyncio.Event()

    async def hang() -> None:
        entered.set()
        await asyncio.Event().wait()

    bus = await connected(url)
    first = consumer(sessions, bus, ack_wait, before_apply=hang)
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(entered.wait(), 10)
    return bus, first, task


async def test_a_consumer_killed_in_the_middle_of_a_batch_has_it_back_within_seconds(status_database, nats_server):  # noqa: F811
    sessions = status_database["status"]
    events = case_log(3)
    publisher = await connected(nats_server.url)
    await publish(publisher.js, events)
    bus, _first, task = await stuck_in_a_batch(sessions, nats_server.url, ack_wait=1.0)
    # kill -9: the connection drops with nothing acknowledged, nothing given back.
    await bus.nc.close()
    task.cancel()
    killed_at = time.monotonic()

    successor_bus = await connected(nats_server.url)
    successor = consumer(sessions, successor_bus, ack_wait=1.0)
    running = asyncio.create_task(successor.run())
    try:
        await until(lambda: _applied(sessions, len(events)), 10)
        back_after = time.monotonic() - killed_at
        assert back_after < 4, f"redelivered after {back_after:.1f} s"
        assert min(successor.deliveries) == 2  # the very deliveries the killed one had
    finally:
        successor.stop()
        running.cancel()
        await successor_bus.close()
        await publisher.close()


async def test_a_consumer_stopped_in_order_gives_its_batch_back_at_once(status_database, nats_server):  # noqa: F811
    sessions = status_database["status"]
    events = case_log(2)
    publisher = await connected(nats_server.url)
    await publish(publisher.js, events)
    # A long ack_wait: only the consumer's own nak can bring the batch back this soon.
    bus, first, task = await stuck_in_a_batch(sessions, nats_server.url, ack_wait=30.0)
    first.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await bus.close()
    stopped_at = time.monotonic()

    successor_bus = await connected(nats_server.url)
    successor = consumer(sessions, successor_bus, ack_wait=30.0)
    running = asyncio.create_task(successor.run())
    try:
        await until(lambda: _applied(sessions, len(events)), 10)
        assert time.monotonic() - stopped_at < 3
    finally:
        successor.stop()
        running.cancel()
        await successor_bus.close()
        await publisher.close()


async def test_a_slow_batch_is_kept_by_its_in_progress_beats_and_applied_once(status_database, nats_server):  # noqa: F811
    sessions = status_database["status"]
    events = case_log(2)
    publisher = await connected(nats_server.url)
    await publish(publisher.js, events)

    async def slow() -> None:
        await asyncio.sleep(3)  # three times the ack_wait

    bus = await connected(nats_server.url)
    slow_consumer = consumer(sessions, bus, ack_wait=1.0, before_apply=slow)
    running = asyncio.create_task(slow_consumer.run())
    try:
        await until(lambda: _applied(sessions, len(events)), 20)
        await asyncio.sleep(1.5)  # anything redelivered meanwhile would have arrived by now
        assert slow_consumer.deliveries == [1] * len(events)
    finally:
        slow_consumer.stop()
        running.cancel()
        await bus.close()
        await publisher.close()


async def _applied(sessions, expected: int) -> bool:  # noqa: ANN001
    return await count(sessions, "inbox") == expected
