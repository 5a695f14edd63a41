"""Scale-out: two replicas of each service at once give the same results as one: the replicas share one
durable consumer, only one outbox relay sends at a time, and nothing takes effect twice."""

from __future__ import annotations

import asyncio

import httpx
import nats
import pytest

from shared.events import GENESIS_HASH
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e


async def test_two_replicas_of_each_service_apply_every_event_once(make_system):
    system = await make_system("intake", "status")
    extra_intake = system.add_replica("intake")
    extra_status = system.add_replica("status")
    reporter = system.token("BAWASLU", "reporter")
    headers = {"Authorization": f"Bearer {reporter}"}
    nips = [random_nip() for _ in range(15)]

    async with httpx.AsyncClient(headers=headers, timeout=20) as client:
        async def post(i: int) -> httpx.Response:
            base = (system["intake"].url, extra_intake.url)[i % 2]
            return await client.post(f"{base}/v1/reports", json=report_body(nips[i % len(nips)]))

        responses = await asyncio.gather(*(post(i) for i in range(90)))
    assert [r.status_code for r in responses] == [201] * 90
    cases = {r.json()["case_id"] for r in responses}
    assert len(cases) == len(nips), "concurrent reports on one NIP and election must share one case"
    expected_events = 90 + len(nips)

    async def all_logged():
        return await system.scalar("status", "SELECT count(*) FROM events") == expected_events

    await eventually(all_logged, 30, "every event logged by the status replicas")
    assert await system.scalar("status", "SELECT count(DISTINCT event_id) FROM events") == expected_events
    assert await system.scalar("status", "SELECT count(*) FROM inbox") == expected_events

    # One chain, no fork: the producer sequence runs 1..N without a gap or a repeat, each link intact.
    rows = await system.scalar(
        "status", "SELECT count(DISTINCT producerseq) FROM events WHERE producer = 'intake'"
    )
    assert rows == expected_events
    assert await system.scalar("status", "SELECT max(producerseq) FROM events") == expected_events
    assert await system.scalar("status", "SELECT prevhash FROM events WHERE producerseq = 1") == GENESIS_HASH
    broken = await system.scalar(
        "status",
        "SELECT count(*) FROM events e JOIN events p ON p.producerseq = e.producerseq - 1 "
        "WHERE e.prevhash <> p.hash",
    )
    assert broken == 0

    # The stream holds each event exactly once, whichever replica's relay sent it.
    connection = await nats.connect(system.nats.url)
    info = await connection.jetstream().stream_info("SBT_EVENTS")
    await connection.close()
    assert info.state.messages == expected_events

    # Both status replicas answer the same thing, and it adds up.
    observer = {"Authorization": f"Bearer {system.token('BKN', 'observer')}"}
    async with httpx.AsyncClient(headers=observer, timeout=10) as client:
        for nip in nips:
            a = (await client.get(f"{system['status'].url}/v1/asn/{nip}/status")).json()
            b = (await client.get(f"{extra_status.url}/v1/asn/{nip}/status")).json()
            assert a["cases"] == b["cases"]
            assert a["cases"][0]["report_count"] == 6
            assert a["cases"][0]["stage"] == "awaiting_verification"
