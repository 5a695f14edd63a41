"""Events are their producers' own: an operator with full bus access (or a leaked service password) can
publish a perfectly chained event, but not one signed by the producer, and no service applies it. A real
fork (two different events signed by one producer for one place) stops that producer loudly until an
operator decides, instead of being dropped as a duplicate."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import nats
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.events import GENESIS_HASH, Envelope, nats_subject
from shared.events.blocking import PersonnelBlocked, PersonnelUnblocked
from shared.events.envelope import utc_now_text
from shared.events.recommendation import RecommendationIssued
from shared.events.signing import SigningKey
from shared.ids import new_id
from tests.e2e.reports import random_nip
from tests.e2e.test_operations import one, scrape
from tests.harness.ports import eventually
from tests.harness.signing import producer_key
from tests.harness.system import ROOT

pytestmark = pytest.mark.e2e

REASON = "Rekomendasi tidak ditindaklanjuti."


def sbt(system, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env=system.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


async def _status(system, nip: str) -> dict:
    async with system.client("status", system.token("BKN", "observer")) as client:
        return (await client.get(f"/v1/asn/{nip}/status")).json()


async def _block(system, nip: str) -> dict:
    async with system.client("blocking", system.token("BKN", "blocker")) as client:
        placed = await client.post(f"/v1/personnel/{nip}/block", json={"reason": REASON})
    assert placed.status_code == 201, placed.text
    return placed.json()


async def _blocking_head(system) -> Envelope:
    """The last event blocking published, as anyone reading the stream sees it."""
    connection = await nats.connect(system.nats.url)  # the test-only ops user: full access to the bus
    try:
        subject = f"{nats_subject(PersonnelBlocked).rsplit('.', 2)[0]}.>"
        msg = await connection.jetstream().get_last_msg("SBT_EVENTS", subject)
        return Envelope.model_validate(orjson.loads(msg.data))
    finally:
        await connection.close()


def _unblock(block: dict, nip: str, *, seq: int, prevhash: str, key: SigningKey | None) -> Envelope:
    """An unblock of ``block`` as the ``seq``-th event of blocking's chain, signed with ``key``."""
    data = PersonnelUnblocked(block_id=block["block_id"], nip=nip, cause="manual", reason="Dicabut.",
                              unblocked_at=dt.datetime.now(dt.UTC))
    unsigned = Envelope(id=new_id(), source="/sbt/blocking", type=data.event_type, time=utc_now_text(),
                        subject=f"nip:{nip}", data=data.model_dump(mode="json"))
    return unsigned.chained(seq, prevhash, key)


async def _publish_as_operator(system, envelope: Envelope, subject: str = nats_subject(PersonnelUnblocked)) -> None:
    connection = await nats.connect(system.nats.url)
    try:
        await connection.jetstream().publish(subject,
                                             envelope.model_dump_json(exclude_none=True).encode(),
                                             headers={"Nats-Msg-Id": envelope.id})
    finally:
        await connection.close()


async def test_a_chained_event_forged_on_the_bus_is_applied_by_no_one_and_verify_names_it(make_system, tmp_path):
    system = await make_system("status", "blocking", "sanction")
    nip, other = random_nip(), random_nip()
    block = await _block(system, nip)
    await eventually(lambda: _blocked(system, nip), 15, "the real block in the shared status")

    head = await _blocking_head(system)
    following = {"seq": (head.producerseq or 0) + 1, "prevhash": head.hash or ""}  # the chain's next place
    unsigned = _unblock(block, nip, **following, key=None)
    # Signed, and even naming blocking's real key id, but with a key of the forger's own.
    stranger = SigningKey("blocking", producer_key(system, "blocking").key_id, Ed25519PrivateKey.generate())
    mis_signed = _unblock(block, nip, **following, key=stranger)
    assert unsigned.hash_is_valid() and mis_signed.hash_is_valid()  # the chain alone would take them
    for forged in (unsigned, mis_signed):
        await _publish_as_operator(system, forged)

    async def refused() -> bool:
        samples = await scrape(system, "status")
        return one(samples, "sbt_events_refused_total", producer="blocking") == 2

    await eventually(refused, 15, "both forged events refused by the status service")
    async with system.client("status", system.token("SBT", "admin")) as ops:
        letters = " | ".join(item["error"] for item in (await ops.get("/v1/ops/dead-letters")).json()["items"])
    assert "is not signed" in letters and "does not carry a valid signature of blocking" in letters

    # blocking's real next event (the same place in its chain) is applied as usual: no fork, no loss.
    await _block(system, other)
    await eventually(lambda: _blocked(system, other), 15, "the real next block applied")
    assert (await _status(system, nip))["blocked"] is True  # the forged unblock changed nothing
    async with system.client("blocking", system.token("SIASN", "personnel")) as personnel:
        assert (await personnel.get(f"/v1/personnel/{nip}/block")).json()["blocked"] is True
    assert await system.scalar("status", "SELECT count(*) FROM ledger_forks") == 0

    # The same on every consumer: a forged recommendation, the first of its producer's chain, opens no
    # deadline at the sanction service.
    issued = RecommendationIssued(
        case_id=new_id(), recommendation_number="REK-2024-999999", nip=nip, agency_code="PEMPROV-JABAR",
        category="discipline", sanction_level="moderate", legal_basis="PP 94/2021 pasal 5 huruf n",
        examining_authority="BKN", issued_at=dt.datetime.now(dt.UTC))
    recommendation = Envelope(id=new_id(), source="/sbt/recommendation", type=issued.event_type, time=utc_now_text(),
                              subject=issued.case_id, data=issued.model_dump(mode="json")).chained(1, GENESIS_HASH)
    await _publish_as_operator(system, recommendation, nats_subject(RecommendationIssued))

    async def refused_by_sanction() -> bool:
        return one(await scrape(system, "sanction"), "sbt_events_refused_total", producer="recommendation") == 1

    await eventually(refused_by_sanction, 15, "the forged recommendation refused by the sanction service")
    assert await system.scalar("sanction", "SELECT count(*) FROM followups") == 0

    # The ledger as exported verifies; the stream, which holds the forged events too, does not, by name.
    export = tmp_path / "ledger.jsonl"
    token = system.token("BKN", "observer")
    assert sbt(system, "export", str(export), "--url", system["status"].url, "--token", token).returncode == 0
    keys = tmp_path / "keys.json"
    async with system.client("status", token) as client:
        keys.write_bytes((await client.get("/v1/ledger/keys")).content)
    verified = sbt(system, "verify", str(export), "--key", str(keys))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    stream = sbt(system, "verify", "--from-stream")
    assert stream.returncode == 1, stream.stdout + stream.stderr
    for forged in (unsigned, mis_signed, recommendation):
        assert forged.id in stream.stdout, stream.stdout


async def _blocked(system, nip: str) -> bool:
    return (await _status(system, nip))["blocked"]


async def test_a_fork_signed_by_the_producer_halts_it_with_an_alarm_until_an_operator_resolves_it(make_system):
    system = await make_system("status", "blocking", extra_env={"SBT_LEDGER_GAP_SECONDS": "1",
                                                                   "SBT_REDELIVERY_SECONDS": "0.5"})
    nip, later = random_nip(), random_nip()
    block = await _block(system, nip)
    await eventually(lambda: _blocked(system, nip), 15, "the block in the shared status")
    real_head = await _blocking_head(system)
    # Blocking's own key signs a second event for a place already logged (a restored backup, a stolen key).
    forked = _unblock(block, nip, seq=real_head.producerseq or 0, prevhash=real_head.prevhash or "",
                      key=producer_key(system, "blocking"))
    await _publish_as_operator(system, forked)

    admin = system.token("SBT", "admin")
    async with system.client("status", admin) as ops:
        async def alarmed():
            listed = (await ops.get("/v1/ops/forks")).json()
            return listed if listed["forks"] else None

        listed = await eventually(alarmed, 15, "the fork on the ops endpoint")
    (fork,) = listed["forks"]
    assert fork["event_id"] == forked.id and fork["producerseq"] == real_head.producerseq
    assert listed["halted_producers"] == ["blocking"]
    assert one(await scrape(system, "status"), "sbt_ledger_forks_total", producer="blocking") == 1
    assert "FORK" in system["status"].log_text()
    assert await system.scalar("status", "SELECT count(*) FROM dead_letters") == 0  # not a silent dead letter

    # Halted: blocking's next real event waits, parked, and the shared status does not move on.
    await _block(system, later)
    await eventually(lambda: _parked(system), 15, "the next blocking event parked")
    assert (await _status(system, later))["blocked"] is False

    async with system.client("status", admin) as ops:
        refused = await ops.post(f"/v1/ops/forks/{fork['id']}/resolve", json={})
        assert refused.status_code == 422
        resolved = await ops.post(f"/v1/ops/forks/{fork['id']}/resolve",
                                  json={"note": "Cadangan lama dipulihkan; kunci blocking diganti."})
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["parked_events_applied"] == 1
        assert (await ops.post(f"/v1/ops/forks/{fork['id']}/resolve", json={"note": "lagi"})).status_code == 409
        assert (await ops.get("/v1/ops/forks")).json() == {"forks": [], "halted_producers": []}
    assert (await _status(system, later))["blocked"] is True
    assert (await _status(system, nip))["blocked"] is True  # the logged event stayed; the fork never applied

    stream = sbt(system, "verify", "--from-stream")
    assert stream.returncode == 1 and forked.id in stream.stdout and "two different events" in stream.stdout


async def _parked(system) -> bool:
    return await system.scalar("status", "SELECT count(*) FROM ledger_parked") == 1
