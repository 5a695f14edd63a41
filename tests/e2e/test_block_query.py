"""The personnel systems' question, answered from memory by every replica of the blocking service: its own
writes at once, the other replica's as soon as the event reaches it, and the same contract as the API."""

from __future__ import annotations

import httpx
import nats
import pytest

from shared.events import GENESIS_HASH, Envelope, nats_subject
from shared.events.blocking import PersonnelUnblocked
from shared.events.envelope import utc_now_text
from shared.ids import new_id
from tests.e2e.reports import random_nip
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e


async def test_every_replica_answers_blocks_from_memory_with_the_api_contract(make_system):
    system = await make_system("blocking")
    other = system.add_replica("blocking")
    blocker = {"Authorization": f"Bearer {system.token('BKN', 'blocker')}"}
    nip, free = random_nip(), random_nip()

    async with httpx.AsyncClient(headers=blocker, timeout=10) as client:
        one, two = system["blocking"].url, other.url

        async def blocked_on(base: str, who: str) -> bool:
            return (await client.get(f"{base}/v1/personnel/{who}/block")).json()["blocked"]

        placed = await client.post(f"{one}/v1/personnel/{nip}/block", json={"reason": "Uji: blokir manual BKN."})
        assert placed.status_code == 201, placed.text
        # The replica that placed it answers at once; the other learns it from the stream.
        answer = (await client.get(f"{one}/v1/personnel/{nip}/block")).json()
        assert answer["blocked"] is True and answer["blocks"][0]["reason"] == "Uji: blokir manual BKN."
        assert answer["since"] == answer["blocks"][0]["since"]
        await eventually(lambda: blocked_on(two, nip), 10, "the other replica sees the block")

        bulk = await client.post(f"{two}/v1/personnel/blocks/check", json={"nips": [free, nip, free]})
        assert bulk.status_code == 200
        assert bulk.json()["blocked"] == 1
        assert [r["blocked"] for r in bulk.json()["results"]] == [False, True, False]

        lifted = await client.post(f"{two}/v1/personnel/{nip}/unblock", json={"reason": "Uji: PPK sudah bertindak."})
        assert lifted.status_code == 200, lifted.text

        async def unblocked_on_one() -> bool:
            return not await blocked_on(one, nip)

        await eventually(unblocked_on_one, 10, "the first replica sees the unblock")

        # The answer from memory continues the caller's trace, as the FastAPI stack does.
        traced = await client.get(f"{one}/v1/personnel/{nip}/block",
                                  headers={"traceparent": "00-" + "e" * 32 + "-" + "f" * 16 + "-01"})
        assert traced.headers["traceparent"].split("-")[1] == "e" * 32

        # Bad input and bad callers get the same answers as everywhere else.
        bad = await client.get(f"{one}/v1/personnel/198609262015051000/block")
        assert bad.status_code == 422 and bad.json()["errors"] == [
            {"field": "nip", "reason": "serial must be 001 to 999, got 000"}
        ]
        bad_bulk = await client.post(f"{one}/v1/personnel/blocks/check", json={"nips": [free, "123"]})
        assert bad_bulk.status_code == 422 and bad_bulk.json()["errors"][0]["field"] == "nips.1"
        too_many = await client.post(f"{one}/v1/personnel/blocks/check", json={"nips": [free] * 1001})
        assert too_many.status_code == 422
        unknown_field = await client.post(f"{one}/v1/personnel/blocks/check", json={"nips": [free], "x": 1})
        assert unknown_field.status_code == 422

    async with httpx.AsyncClient(timeout=10) as anonymous:
        refused = await anonymous.get(f"{system['blocking'].url}/v1/personnel/{nip}/block")
        assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
        reporter = {"Authorization": f"Bearer {system.token('BAWASLU', 'reporter')}"}
        forbidden = await anonymous.get(f"{system['blocking'].url}/v1/personnel/{nip}/block", headers=reporter)
        assert forbidden.status_code == 403
        metrics = (await anonymous.get(f"{system['blocking'].url}/metrics")).text
        assert 'route="/v1/personnel/{nip}/block"' in metrics


async def test_a_forged_unblock_on_the_bus_leaves_a_blocked_nip_blocked_on_every_replica(make_system):
    """An unblock published outside the chain (valid hash, producer ``blocking``, a made-up sequence) names a
    real block; the index only re-reads the NIP from the database, where the block is still active."""
    system = await make_system("blocking")
    other = system.add_replica("blocking")
    replicas = [system["blocking"].url, other.url]
    blocker = {"Authorization": f"Bearer {system.token('BKN', 'blocker')}"}
    nip = random_nip()

    async with httpx.AsyncClient(headers=blocker, timeout=10) as client:
        async def blocked_on(base: str, who: str) -> bool:
            return (await client.get(f"{base}/v1/personnel/{who}/block")).json()["blocked"]

        async def blocked_everywhere(who: str) -> bool:
            return all([await blocked_on(base, who) for base in replicas])

        placed = await client.post(f"{replicas[0]}/v1/personnel/{nip}/block", json={"reason": "Uji: blokir BKN."})
        assert placed.status_code == 201, placed.text
        block_id = placed.json()["block_id"]
        await eventually(lambda: blocked_everywhere(nip), 10, "both replicas see the block")

        forged = Envelope(
            id=new_id(), source="/sbt/blocking", type=PersonnelUnblocked.event_type, time=utc_now_text(),
            subject=f"nip:{nip}",
            data=PersonnelUnblocked(block_id=block_id, nip=nip, cause="manual", reason="Dibuka (palsu).",
                                    unblocked_at=utc_now_text()).model_dump(mode="json"),
        ).chained(10**9, GENESIS_HASH)
        assert forged.hash_is_valid() and forged.producer == "blocking"
        connection = await nats.connect(system.nats.url)  # the test-only ops user
        try:
            await connection.jetstream().publish(nats_subject(PersonnelUnblocked),
                                                 forged.model_dump_json(exclude_none=True).encode(),
                                                 headers={"Nats-Msg-Id": forged.id})
        finally:
            await connection.close()

        # Blocks placed after the forgery, each on one replica, reach the other through the same feed: by
        # then each replica has handled the forged event too.
        for here, there in (replicas, replicas[::-1]):
            marker = random_nip()
            response = await client.post(f"{here}/v1/personnel/{marker}/block", json={"reason": "Uji: penanda."})
            assert response.status_code == 201, response.text
            await eventually(lambda: blocked_on(there, marker), 10, "the marker block reaches the other replica")

        for base in replicas:
            answer = (await client.get(f"{base}/v1/personnel/{nip}/block")).json()
            assert answer["blocked"] is True and [b["block_id"] for b in answer["blocks"]] == [block_id], base
            bulk = (await client.post(f"{base}/v1/personnel/blocks/check", json={"nips": [nip]})).json()
            assert bulk["blocked"] == 1 and bulk["results"][0]["blocked"] is True, base
