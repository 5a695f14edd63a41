"""Blocking's handlers against its own real (SQLite) database, without a bus: overdue blocks once, the
follow-up lifts, and an agency is escalated once per crossing of the threshold."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from services.blocking.app import SPEC
from services.blocking.models import AgencyWatch, Block, Escalation
from shared.events import EVENT_MODELS, Envelope
from shared.events.sanction import DeadlineExtended, FollowupOverdue, FollowupRecorded
from shared.messaging.consumer import Incoming
from shared.migrations import upgrade
from shared.service import Runtime
from shared.settings import Settings

_seq = itertools.count(1)


@pytest.fixture
async def runtime(tmp_path):
    settings = Settings(env="test", data_dir=tmp_path, escalation_threshold=2,
                        clock_fixed=dt.datetime(2024, 11, 5, 1, 0, tzinfo=dt.UTC))
    runtime = Runtime(SPEC, settings)
    await asyncio.to_thread(upgrade, "blocking", runtime.database_url)
    yield runtime
    await runtime.engine.dispose()


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
