"""Blocking's handlers against its own real (SQLite) database, without a bus: under the automatic policy
overdue blocks once, the follow-up lifts, and an agency is escalated once per crossing of the threshold;
under the decision policy (the default) an overdue case waits for BKN, who blocks, gives more time or
records why not."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from services.blocking import decisions
from services.blocking.app import SPEC
from services.blocking.schemas import DecisionIn
from services.blocking.models import AgencyWatch, Block, Escalation
from shared.auth import Actor
from shared.events import EVENT_MODELS, Envelope
from shared.events.sanction import DeadlineExtended, FollowupOverdue, FollowupRecorded
from shared.messaging.consumer import Incoming
from shared.migrations import upgrade
from shared.problems import Problem
from shared.service import Runtime
from services.blocking.settings import BlockingSettings

_seq = itertools.count(1)


async def _runtime(tmp_path, policy: str):  # noqa: ANN202
    settings = BlockingSettings(env="test", data_dir=tmp_path, escalation_threshold=2, blocking_policy=policy,
                        clock_fixed=dt.datetime(2024, 11, 5, 1, 0, tzinfo=dt.UTC))
    runtime = Runtime(SPEC, settings)
    await asyncio.to_thread(upgrade, "blocking", runtime.database_url)
    return runtime


@pytest.fixture
async def runtime(tmp_path):
    runtime = await _runtime(tmp_path, "automatic")
    yield runtime
    await runtime.engine.dispose()


@pytest.fixture
async def deciding(tmp_path):
    runtime = await _runtime(tmp_path, "decision")
    yield runtime
    await runtime.engine.dispose()


BLOCKER = Actor(client_id="bkn-blocker", agency="BKN", roles=frozenset({"blocker"}))


async def _decide(runtime: Runtime, case_id: str, **body):  # noqa: ANN202
    return await decisions.decide(runtime=runtime, case_id=case_id, body=DecisionIn(**body), actor=BLOCKER)


async def test_under_the_decision_policy_bkn_blocks_gives_more_time_or_records_why_not(deciding):
    for case in ("D1", "D2", "D3", "D4"):
        await _deliver(deciding, _incoming(FollowupOverdue, case_id=case, agency_code="KAB-Y"))
    assert await _active(deciding, "D1") == [], "nobody is blocked without BKN's decision"
    total, waiting = await decisions.worklist(runtime=deciding, agency=None, limit=10, offset=0)
    assert total == 4 and [c.case_id for c in waiting] == ["D1", "D2", "D3", "D4"]
    # Early warning and escalation rules stay: the agency crossed the threshold of two.
    assert (await _staged(deciding)).count("sbt.escalation.raised.v1") == 1

    blocked = await _decide(deciding, "D1", decision="block", reason="PPK tidak menindaklanjuti.")
    assert blocked.block_id and (await _active(deciding, "D1"))[0].blocked_by == "bkn-blocker"
    await _decide(deciding, "D2", decision="more_time", working_days=5, reason="PPK baru dilantik.")
    await _decide(deciding, "D3", decision="decline", reason="SK sedang ditandatangani.")
    with pytest.raises(Problem) as twice:
        await _decide(deciding, "D3", decision="block", reason="Berubah pikiran.")
    assert twice.value.status == 409
    with pytest.raises(Problem) as missing:
        await _decide(deciding, "D4", decision="more_time", reason="Tanpa jumlah hari.")
    assert missing.value.errors == [{"field": "working_days", "reason": "required when the decision is more_time"}]
    assert (await _staged(deciding))[-3:] == ["sbt.personnel.blocked.v1", "sbt.block.time_granted.v1",
                                              "sbt.block.declined.v1"]
    # A follow-up takes D4 off the worklist; the extension that follows the more time takes D2 off it.
    await _deliver(deciding, _incoming(FollowupRecorded, case_id="D4", agency_code="KAB-Y"))
    total, _ = await decisions.worklist(runtime=deciding, agency=None, limit=10, offset=0)
    assert total == 0
    # D2 overdue again after its extension: back on the worklist, for the new due date.
    await _deliver(deciding, _incoming(DeadlineExtended, case_id="D2", due_date="2024-11-12"))
    await _deliver(deciding, _incoming(FollowupOverdue, case_id="D2", agency_code="KAB-Y", due_date="2024-11-12"))
    total, waiting = await decisions.worklist(runtime=deciding, agency="KAB-Y", limit=10, offset=0)
    assert total == 1 and waiting[0].due_date == dt.date(2024, 11, 12)


def _incoming(model, **fields) -> Incoming:
    data = model.model_validate({**model.examples[0], **fields})
    seq = next(_seq)
    envelope = Envelope(id=f"ev{seq}", source=f"/sbt/{model.producer}", type=model.event_type,
                        time="2024-11-05T01:00:00Z", subject=data.case_id, data=data.model_dump(mode="json"))
    return Incoming(envelope, data, seq)


async def _deliver(runtime: Runtime, incoming: Incoming) -> None:
    handler = SPEC.handlers(runtime)[EVENT_MODELS[incoming.envelope.type]]
    async with runtime.transaction() as session:
        await handler(session, incoming)


async def _staged(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as session:
        outbox = runtime.tables.outbox
        return list((await session.scalars(select(outbox.c.event_type).order_by(outbox.c.id))).all())


async def _active(runtime: Runtime, case_id: str) -> list[Block]:
    async with runtime.sessions() as session:
        query = select(Block).where(Block.case_id == case_id, Block.lifted_at.is_(None))
        return list((await session.scalars(query)).all())


async def test_overdue_blocks_once_and_the_followup_lifts(runtime):
    await _deliver(runtime, _incoming(FollowupOverdue, case_id="C1", agency_code="A"))
    await _deliver(runtime, _incoming(FollowupOverdue, case_id="C1", agency_code="A"))  # a second notice
    (block,) = await _active(runtime, "C1")
    assert block.cause == "overdue" and block.reason == "Tindak lanjut melewati batas waktu 2024-11-04."

    await _deliver(runtime, _incoming(FollowupRecorded, case_id="C1", agency_code="A"))
    assert await _active(runtime, "C1") == []
    async with runtime.sessions() as session:
        lifted = await session.get(Block, block.block_id)
    assert lifted.lift_cause == "followup" and "800/123/BKD/2024" in lifted.lift_reason
    assert await _staged(runtime) == ["sbt.personnel.blocked.v1", "sbt.personnel.unblocked.v1"]


async def test_an_overdue_notice_after_the_followup_blocks_nobody(runtime):
    await _deliver(runtime, _incoming(FollowupRecorded, case_id="C2", agency_code="A"))
    await _deliver(runtime, _incoming(FollowupOverdue, case_id="C2", agency_code="A"))
    assert await _active(runtime, "C2") == []
    assert await _staged(runtime) == []


async def test_an_agency_is_escalated_once_per_crossing(runtime):
    for case in ("E1", "E2", "E3"):
        await _deliver(runtime, _incoming(FollowupOverdue, case_id=case, agency_code="KAB-X"))
    # Below the threshold again: one followed up, one extended.
    await _deliver(runtime, _incoming(FollowupRecorded, case_id="E1", agency_code="KAB-X"))
    await _deliver(runtime, _incoming(DeadlineExtended, case_id="E2", due_date="2024-11-20"))
    async with runtime.sessions() as session:
        watch = await session.get(AgencyWatch, "KAB-X")
    assert watch.overdue_cases == 1 and watch.escalated is False
    # And across it once more.
    await _deliver(runtime, _incoming(FollowupOverdue, case_id="E4", agency_code="KAB-X"))

    async with runtime.sessions() as session:
        escalations = (await session.scalars(select(Escalation).order_by(Escalation.overdue_case_ids))).all()
    assert [e.overdue_case_ids for e in escalations] == [["E1", "E2"], ["E3", "E4"]]
    assert all(e.threshold == 2 and e.agency_code == "KAB-X" for e in escalations)
    assert (await _staged(runtime)).count("sbt.escalation.raised.v1") == 2
    # The extension took E2 out of the count but its block stays until the follow-up or BKN lifts it.
    assert len(await _active(runtime, "E2")) == 1
