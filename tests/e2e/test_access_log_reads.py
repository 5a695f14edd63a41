"""The access log of a busy read path: successful reads of one client are counted per second in one entry,
while every refusal and every write keeps an entry of its own (shared/access_log.py)."""

from __future__ import annotations

import math
import time

import pytest

from tests.e2e.access_log import logged_entries
from tests.e2e.reports import random_nip

pytestmark = pytest.mark.e2e

READ = "/v1/personnel/{nip}/block"


async def test_successful_reads_are_counted_in_entries_and_refusals_and_writes_stand_alone(make_system):
    system = await make_system("blocking", extra_env={"SBT_ACCESS_LOG_FLUSH_SECONDS": "1"})
    nip = random_nip()
    async with system.client("blocking", system.token("BKN", "blocker", client_id="bkn-sapk")) as client:
        placed = await client.post(f"/v1/personnel/{nip}/block", json={"reason": "Uji: blokir manual BKN."})
        assert placed.status_code == 201, placed.text
        started = time.monotonic()
        for _ in range(300):  # from memory (the hot path)
            assert (await client.get(f"/v1/personnel/{random_nip()}/block")).status_code == 200
        seconds = time.monotonic() - started
        for _ in range(3):
            assert (await client.get("/v1/personnel/123/block")).status_code == 422

    async with system.client("blocking", system.token("SBT", "admin")) as admin:
        entries = await logged_entries(
            admin, lambda found: sum(e["requests"] for e in found if e["route"] == READ and e["status"] == 200) >= 300,
            what="the three hundred reads counted", client_id="bkn-sapk")
    reads = [e for e in entries if e["route"] == READ and e["status"] == 200]
    # Every read is counted, once; a few entries stand for all of them (each second, and each flush of the
    # log, starts a new one).
    assert sum(e["requests"] for e in reads) == 300
    assert len(reads) <= 2 * (math.ceil(seconds) + 1) < 300, (len(reads), seconds)
    assert all(e["client_id"] == "bkn-sapk" and e["roles"] == ["blocker"] and e["trace_id"] for e in reads)
    # The refused reads and the write are one entry each.
    refused = [e for e in entries if e["status"] == 422]
    assert len(refused) == 3 and all(e["requests"] == 1 for e in refused)
    writes = [e for e in entries if e["method"] == "POST"]
    assert len(writes) == 1 and writes[0]["requests"] == 1 and writes[0]["status"] == 201
