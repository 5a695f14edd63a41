"""A national surge on a 3-node NATS cluster (stream replicas 3): one node is killed under load, and every
report still reaches the status, once."""

from __future__ import annotations

import asyncio

import httpx
import nats
import pytest

from tests.e2e.reports import random_nip, report_body
from tests.harness.nats_cluster import NatsCluster
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e


async def test_killing_one_node_under_load_loses_and_doubles_nothing(make_system, tmp_path):
    cluster = NatsCluster(tmp_path / "cluster")
    system = await make_system("intake", "status", nats=cluster, extra_env={"SBT_STREAM_REPLICAS": "3"})
    headers = {"Authorization": f"Bearer {system.token('BAWASLU', 'reporter')}"}
    nips = [random_nip() for _ in range(120)]

    async with httpx.AsyncClient(base_url=system["intake"].url, headers=headers, timeout=20) as client:
        async def post(nip: str) -> int:
            return (await client.post("/v1/reports", json=report_body(nip))).status_code

        first = await asyncio.gather(*(post(nip) for nip in nips[:60]))
        killer = asyncio.get_running_loop().run_in_executor(None, cluster.nodes[0].kill)
        second = await asyncio.gather(*(post(nip) for nip in nips[60:]))
        await killer
    assert first + second == [201] * 120

    async def all_arrived():
        return await system.scalar("status", "SELECT count(*) FROM events") == 240

    await eventually(all_arrived, 60, "240 events (120 cases opened, 120 reports) in the status")
    assert await system.scalar("status", "SELECT count(DISTINCT event_id) FROM events") == 240
    assert await system.scalar("status", "SELECT count(*) FROM case_status") == 120

    survivor = f"nats://127.0.0.1:{cluster.nodes[1].port}"
    connection = await nats.connect(survivor)
    info = await connection.jetstream().stream_info("SBT_EVENTS")
    await connection.close()
    assert info.config.num_replicas == 3
    assert info.state.messages == 240, "the stream holds every event once, across the node's death"
