"""Intake's group commit on a real database (SQLite, or PostgreSQL with SBT_TEST_DATABASE_URL): reports
filed at the same moment share one transaction and still get each its own answer; a bad one fails alone.

No bus is needed: filing only stages events in the outbox, which the relay publishes later."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event

from services.intake.app import SPEC
from services.intake.filing import ReportFiler, Submission
from services.intake.schemas import ReportIn
from shared.auth import Actor
from shared.problems import Problem
from shared.service import Runtime
from services.cli.settings import SystemSettings
from tests.e2e.reports import random_nip, report_body
from tests.harness import database
from tests.harness.system import seed_reference_tables

pytestmark = pytest.mark.e2e

BAWASLU = Actor(client_id="bawaslu-client", agency="BAWASLU", roles=frozenset({"reporter"}))


@pytest.fixture
async def intake(tmp_path):  # noqa: ANN001
    databases = database.TestDatabases(tmp_path, ["intake"])
    await databases.create()
    settings = SystemSettings(env="test", data_dir=tmp_path / "data", database_url=databases.template,
                        nats_url="nats://127.0.0.1:1")
    runtime = Runtime(SPEC, settings)
    await seed_reference_tables(runtime.database_url)
    filer = ReportFiler(runtime)
    task = asyncio.create_task(filer.run())
    commits: list[int] = []
    event.listen(runtime.engine.sync_engine, "commit", lambda _connection: commits.append(1))
    runtime.commits, runtime.filer = commits, filer
    yield runtime
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await runtime.engine.dispose()
    await databases.drop()


def _submission(runtime: Runtime, body: dict, key: str | None = None) -> Submission:
    return Submission.prepare(runtime, ReportIn.model_validate(body), BAWASLU, key)


async def _file_together(runtime: Runtime, submissions: list[Submission]) -> list:
    return await asyncio.gather(*(runtime.filer.file(s) for s in submissions), return_exceptions=True)


async def _count(runtime: Runtime, query: str) -> int:
    from sqlalchemy import text

    async with runtime.sessions() as session:
        return (await session.execute(text(query))).scalar()


async def test_reports_filed_at_once_commit_together_and_each_gets_its_own_answer(intake):
    nips = [random_nip() for _ in range(10)]
    bodies = [report_body(nips[i % 10], description=f"Laporan nomor {i}.") for i in range(40)]
    submissions = [_submission(intake, body) for body in bodies]
    retry = report_body(random_nip())
    submissions += [_submission(intake, retry, key="k-1"), _submission(intake, retry, key="k-1"),
                    _submission(intake, {**retry, "description": "Teks lain."}, key="k-1")]

    outcomes = await _file_together(intake, submissions)

    assert len(intake.commits) == 1, "one transaction for the whole group"
    filed = outcomes[:40]
    assert len({f.accepted.report_id for f in filed}) == 40
    assert len({f.accepted.case_id for f in filed}) == 10, "one case per NIP and election"
    assert sum(f.accepted.case_opened for f in filed) == 10
    for i, f in enumerate(filed):  # each report sits in the case of its own NIP
        assert f.accepted.case_id == filed[i % 10].accepted.case_id
    first, again, other_body = outcomes[40:]
    assert not first.replayed and again.replayed and again.accepted == first.accepted
    assert isinstance(other_body, Problem) and other_body.status == 422
    assert other_body.errors == [{"field": "Idempotency-Key", "reason": "already used with a different request body"}]

    assert await _count(intake, "SELECT count(*) FROM reports") == 41
    assert await _count(intake, "SELECT count(*) FROM cases") == 11
    assert await _count(intake, "SELECT count(*) FROM outbox") == 41 + 11  # report.received + case.opened
    # The public complaint check knows every case at once, from the same transaction.
    assert await _count(intake, "SELECT count(*) FROM public_case_stage WHERE stage = 'awaiting_verification'") == 11


async def test_a_later_group_joins_the_open_cases_and_replays_earlier_answers(intake):
    nip = random_nip()
    body = report_body(nip)
    (first,) = await _file_together(intake, [_submission(intake, body, key="k-2")])
    later = await _file_together(intake, [
        _submission(intake, body, key="k-2"),
        _submission(intake, report_body(nip, violation_codes=["DISIPLIN-KAMPANYE"])),
    ])
    assert later[0].replayed and later[0].accepted == first.accepted
    assert later[1].accepted.case_id == first.accepted.case_id and not later[1].accepted.case_opened
    assert await _count(intake, "SELECT count(*) FROM reports") == 2
    async with intake.sessions() as session:
        from sqlalchemy import text

        state = (await session.execute(text("SELECT state FROM public_case_stage"))).scalar()
    assert '"DISIPLIN-KAMPANYE"' in state and '"ETIK-MEDSOS"' in state


async def test_a_report_that_cannot_be_written_fails_alone(intake):
    (earlier,) = await _file_together(intake, [_submission(intake, report_body())])
    good = [_submission(intake, report_body()) for _ in range(5)]
    bad = _submission(intake, report_body())
    bad.report_id = earlier.accepted.report_id  # a primary key already taken: refused on every attempt
    commits_before = len(intake.commits)

    outcomes = await _file_together(intake, [*good[:2], bad, *good[2:]])

    assert isinstance(outcomes[2], Exception)
    assert all(not isinstance(o, Exception) and o.accepted.case_opened for i, o in enumerate(outcomes) if i != 2)
    assert len(intake.commits) - commits_before == 5  # the group fell back to one transaction per report
    assert await _count(intake, "SELECT count(*) FROM reports") == 6
    # Nothing of the bad report was written: no case, no event.
    assert await _count(intake, "SELECT count(*) FROM cases") == 6
    assert await _count(intake, "SELECT count(*) FROM outbox") == 12
