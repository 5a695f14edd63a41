"""The write limit's logic (GCRA on a database row), against a real SQLite database; time is an input."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import MetaData

from shared.auth import Actor
from shared.db import create_engine, sessionmaker
from shared.problems import Problem
from shared.write_limit import WriteLimiter, client_key, counts_as_write, write_rate_table


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def database(tmp_path):  # noqa: ANN001, ANN201
    metadata = MetaData()
    table = write_rate_table(metadata)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'limit.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield table, sessionmaker(engine)
    await engine.dispose()


def limiter_on(database, clock: Clock, rate: float = 6, burst: int = 3) -> WriteLimiter:  # noqa: ANN001
    table, sessions = database
    return WriteLimiter(table, sessions, rate_per_minute=rate, burst=burst, clock=clock)


async def test_a_burst_passes_then_429_with_the_seconds_until_the_budget_refills(database):
    clock = Clock()
    limiter = limiter_on(database, clock)  # one write every 10 s, three at once
    assert [(await limiter.check("bawaslu")).allowed for _ in range(4)] == [True, True, True, False]
    assert (await limiter.check("bawaslu")).retry_after == 10
    clock.now += 9.5
    assert (await limiter.check("bawaslu")).retry_after == 1
    clock.now += 0.5
    assert (await limiter.check("bawaslu")).allowed
    assert not (await limiter.check("bawaslu")).allowed
    clock.now += 3600  # a long pause refills to the burst, never beyond it
    assert [(await limiter.check("bawaslu")).allowed for _ in range(4)] == [True, True, True, False]


async def test_another_client_is_not_affected_and_a_second_limiter_on_the_same_table_shares_the_budget(database):
    clock = Clock()
    first, second = limiter_on(database, clock), limiter_on(database, clock)  # two replicas, one database
    assert [(await limiter.check("bawaslu")).allowed for limiter in (first, second, first, second)] == [
        True, True, True, False]
    assert (await second.check("bkn")).allowed


async def test_checks_arriving_together_are_decided_in_one_go_and_exactly(database):
    limiter = limiter_on(database, Clock(), rate=60, burst=20)
    decisions = await asyncio.gather(*(limiter.check(f"client-{n % 2}") for n in range(60)))
    assert sum(d.allowed for d in decisions) == 40  # twenty each
    assert all(d.retry_after == 1 for d in decisions if not d.allowed)


async def test_spend_raises_a_429_problem_with_retry_after(database):
    limiter = limiter_on(database, Clock(), burst=1)
    actor = Actor(client_id="bawaslu-client", agency="BAWASLU", roles=frozenset({"reporter"}),
                  claims={"sub": "bawaslu-client"})
    await limiter.spend(actor)
    with pytest.raises(Problem) as refused:
        await limiter.spend(actor)
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "10"}


def test_the_client_is_the_client_id_claim_else_the_subject_and_reads_are_not_writes():
    assert client_key(Actor("sub-1", "BKN", frozenset(), claims={"client_id": "c-9"})) == "c-9"
    assert client_key(Actor("sub-1", "BKN", frozenset(), claims={})) == "sub-1"
    assert counts_as_write("POST", "report:create") and counts_as_write("DELETE", "reporter-identity:erase")
    assert not counts_as_write("GET", "report:create")
    assert not counts_as_write("POST", "block:read")  # the bulk block check: a read sent as POST
