"""The verifiable status, end to end on real parts: the status service checks every chain and keeps the
Merkle tree as events arrive; its answers carry signed checkpoints and proofs that `sbt verify` checks with
the network cut off; a witness co-signs; tampering with the status database is named by `sbt verify`; and
`sbt replay` reproduces the live projection's state hash."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import nats
import orjson
import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from services.cli.app import app as cli_app
from shared.db import create_engine
from shared.events import EVENT_MODELS, Envelope, nats_subject
from shared.events.intake import CaseOpened, ReportReceived
from shared.ledger import checkpoint as cp
from shared.ledger import merkle
from tests.harness.ports import eventually
from tests.unit.ledger_fixtures import case_log, chain

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


async def publish(system, envelopes: list[Envelope]) -> None:
    """Events exactly as producers' relays send them (chained, Nats-Msg-Id = event id)."""
    connection = await nats.connect(system.nats.url)
    js = connection.jetstream()
    for envelope in envelopes:
        await js.publish(nats_subject(EVENT_MODELS[envelope.type]), envelope.model_dump_json(exclude_none=True).encode(),
                         headers={"Nats-Msg-Id": envelope.id})
    await connection.close()


def more_intake(after: list[Envelope], cases: int) -> list[Envelope]:
    """Further intake events continuing the chain of ``after``."""
    last = [e for e in after if e.producer == "intake"][-1]
    payloads = []
    for number in range(cases):
        case_id = f"01LATE{last.producerseq:010d}{number:010d}"
        payloads += [(CaseOpened.event_type, case_id, {**CaseOpened.examples[0], "case_id": case_id}),
                     (ReportReceived.event_type, case_id, {**ReportReceived.examples[0], "case_id": case_id,
                                                           "report_id": f"01LREP{last.producerseq:010d}{number:010d}"})]
    return chain("intake", payloads, start_seq=last.producerseq + 1, prev=last.hash)


async def in_process(*args: str) -> Result:
    """`sbt` run in this process (in a thread, since export runs its own event loop): the tamper loop runs it
    a dozen times, and a fresh interpreter each time would cost seconds."""
    return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args))


def sbt(system, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.cli", "--lang", "en", *args], env=system.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


async def tree_size(system) -> int:
    async with system.client("status", system.token("BKN", "observer")) as client:
        return (await client.get("/v1/ledger/checkpoint")).json()["tree_size"]


async def wait_for_size(system, size: int) -> None:
    async def reached():
        return await tree_size(system) >= size

    await eventually(reached, 20, f"ledger of {size} leaves")


async def execute(system, *statements: str) -> None:
    engine = create_engine(system.databases.url("status"))
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def log_key(system) -> str:
    return f"status-dev={system.data_dir / 'dev-ledger-ed25519.pem'}"


async def test_answers_carry_proofs_that_verify_offline_and_a_witness_cosigns(make_system, tmp_path):
    witness_pem = cp.generate_private_pem()
    (tmp_path / "kasn.pem").write_text(witness_pem)
    witness_keys = orjson.dumps({"kasn-1": cp.public_pem(cp.load_private_key(witness_pem))}).decode()
    system = await make_system("status", extra_env={"SBT_LEDGER_WITNESS_KEYS": witness_keys,
                                                    "SBT_LEDGER_CHECKPOINT_SECONDS": "0",
                                                    "SBT_LEDGER_GAP_SECONDS": "0.5",
                                                    "SBT_REDELIVERY_SECONDS": "0.25"})
    events = case_log()
    await publish(system, events)
    await wait_for_size(system, len(events))

    observer = system.client("status", system.token("BKN", "observer"))
    async with observer:
        nip = events[0].data["nip"]
        answer = (await observer.get(f"/v1/asn/{nip}/status", params={"proofs": "true"})).json()
        assert answer["checkpoint"]["tree_size"] == 7 and len(answer["cases"]) == 3
        assert sorted(p["leaf_index"] for p in answer["proofs"]) == list(range(7))
        plain = (await observer.get(f"/v1/asn/{nip}/status")).json()
        assert plain["proofs"] is None and plain["checkpoint"]["signature"]
        timeline = (await observer.get(f"/v1/cases/{events[0].subject}/timeline", params={"proofs": "true"})).json()

        # One event's proof from the API checks against the signed root with nothing but the RFC algorithm.
        proof = (await observer.get("/v1/ledger/proofs/inclusion", params={"event_id": events[3].id})).json()
        merkle.verify_inclusion(bytes.fromhex(events[3].hash), proof["leaf_index"], proof["tree_size"],
                                [bytes.fromhex(h) for h in proof["audit_path"]],
                                bytes.fromhex(proof["checkpoint"]["root_hash"]))
        missing = await observer.get("/v1/ledger/proofs/inclusion", params={"event_id": "01NOSUCHEVENT"})
        assert missing.status_code == 404
        too_far = await observer.get("/v1/ledger/proofs/consistency", params={"first": 3, "second": 99})
        assert too_far.status_code == 422 and too_far.json()["errors"][0]["field"] == "second"

    async with system.client("status", system.token("SBT", "admin")) as admin:
        created = await admin.post("/v1/ledger/checkpoints")
        again = await admin.post("/v1/ledger/checkpoints")
    assert created.status_code == 201 and again.status_code == 200
    assert created.json()["tree_size"] == again.json()["tree_size"] == 7

    witness = ["witness", "--agency", "KASN", "--key", str(tmp_path / "kasn.pem"), "--key-id", "kasn-1",
               "--state", str(tmp_path / "kasn-state.json"), "--url", system["status"].url]
    first = sbt(system, *witness)
    assert first.returncode == 0, first.stderr
    assert "co-signed sbt-status@7" in first.stdout and "first checkpoint witnessed" in first.stdout

    later = more_intake(events, 2)
    await publish(system, later)
    await wait_for_size(system, 11)
    second = sbt(system, *witness)
    assert second.returncode == 0, second.stderr
    assert "co-signed sbt-status@11" in second.stdout and "consistent with size 7" in second.stdout
    async with system.client("status", system.token("BKN", "observer")) as observer:
        listed = (await observer.get("/v1/ledger/checkpoints")).json()["checkpoints"]
        consistency = (await observer.get("/v1/ledger/proofs/consistency", params={"first": 7, "second": 11})).json()
    assert [(c["tree_size"], [s["witness"] for s in c["cosignatures"]]) for c in listed] == [(7, ["KASN"]),
                                                                                            (11, ["KASN"])]
    merkle.verify_consistency(7, 11, bytes.fromhex(listed[0]["root_hash"]), bytes.fromhex(listed[1]["root_hash"]),
                              [bytes.fromhex(h) for h in consistency["proof"]])

    # A producer whose chain skips an event: held for its predecessor, then dead-lettered, never a leaf.
    skipped = more_intake([*events, *later], 1)[1:]  # the case opening is never sent
    await publish(system, skipped)

    async def dead_lettered():
        return await system.scalar("status", "SELECT error FROM dead_letters WHERE event_id = :id", id=skipped[0].id)

    error = await eventually(dead_lettered, 20, "the gap dead-lettered")
    missing = skipped[0].producerseq - 1
    assert error.startswith(f"ChainBreak: intake #{missing + 1} (event {skipped[0].id}): gap, intake #{missing}..#{missing} "
                            "not received yet; still missing after 0.5s"), error
    assert await system.scalar("status", "SELECT count(*) FROM case_status WHERE case_id = :c", c=skipped[0].subject) == 0
    assert await tree_size(system) == 11

    # With the network cut off, the saved answers verify with the pinned key alone, and a lie does not.
    system["status"].kill()
    system.nats.stop()
    saved = tmp_path / "answer.json"
    saved.write_bytes(orjson.dumps(answer))
    result = sbt(system, "verify", "--proof", str(saved), "--key", log_key(system))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "proven 7" in result.stdout and "OK: verified" in result.stdout
    (tmp_path / "timeline.json").write_bytes(orjson.dumps(timeline))
    assert sbt(system, "verify", "--proof", str(tmp_path / "timeline.json"), "--key", log_key(system)).returncode == 0

    answer["cases"][0]["stage"] = "sanctioned"
    saved.write_bytes(orjson.dumps(answer))
    lie = sbt(system, "verify", "--proof", str(saved), "--key", log_key(system))
    assert lie.returncode == 1
    assert f"[status] case {answer['cases'][0]['case_id']}: stage is 'sanctioned' but the proven events give" in lie.stdout


async def test_tampering_with_the_status_database_is_named_by_verify_and_replay_reproduces_the_state(
    make_system, tmp_path
):
    system = await make_system("status", extra_env={"SBT_LEDGER_CHECKPOINT_SECONDS": "0"})
    events = case_log()
    await publish(system, events)
    await wait_for_size(system, 7)
    async with system.client("status", system.token("SBT", "admin")) as admin:
        assert (await admin.post("/v1/ledger/checkpoints")).status_code == 201
    later = more_intake(events, 1)
    await publish(system, later)
    await wait_for_size(system, 9)

    export = tmp_path / "ledger.jsonl"

    token = system.token("BKN", "observer")

    async def export_and_verify() -> Result:
        exported = await in_process("export", str(export), "--url", system["status"].url, "--token", token)
        assert exported.exit_code == 0, exported.output
        return await in_process("verify", str(export), "--key", log_key(system))

    intact = await export_and_verify()
    assert intact.exit_code == 0, intact.output
    assert "events 9, checkpoints 2, statuses 4" in intact.output and "checkpoints_matched 2" in intact.output

    streamed = sbt(system, "export", str(tmp_path / "stream.jsonl"), "--from-stream")
    assert streamed.returncode == 0 and "9 events, 1 checkpoints" in streamed.stdout, streamed.stdout + streamed.stderr
    assert (await in_process("verify", str(tmp_path / "stream.jsonl"), "--key", log_key(system))).exit_code == 0

    seq = {e.id: await system.scalar("status", "SELECT stream_seq FROM events WHERE event_id = :id", id=e.id)
           for e in [*events, *later]}

    # 1. One stored event changed.
    await execute(system, f"UPDATE events SET envelope = replace(envelope, 'Kota Bandung', 'Kota Bogor') "
                          f"WHERE event_id = '{events[1].id}'")
    changed = await export_and_verify()
    assert changed.exit_code == 1
    assert f"[chain] leaf 1: intake #2 (event {events[1].id}, sbt.report.received.v1): content does not match its hash" \
        in changed.output
    await execute(system, f"UPDATE events SET envelope = replace(envelope, 'Kota Bogor', 'Kota Bandung') "
                          f"WHERE event_id = '{events[1].id}'")
    assert (await export_and_verify()).exit_code == 0

    # 2. One stored event deleted.
    row = await system.scalar("status", "SELECT envelope FROM events WHERE event_id = :id", id=events[2].id)
    await execute(system, f"DELETE FROM events WHERE event_id = '{events[2].id}'")
    deleted = await export_and_verify()
    assert deleted.exit_code == 1
    assert f"[chain] intake #3 missing: between leaf 1 (#2, event {events[1].id}) and leaf 2: intake #4" in deleted.output
    assert "[tree] checkpoint sbt-status@9" in deleted.output and "holds only 8" in deleted.output
    await restore(system, events[2], seq[events[2].id], row)

    # 3. Two stored events reordered (different producers, so only the tree can tell).
    a, b = seq[events[5].id], seq[events[6].id]
    await execute(system, f"UPDATE events SET stream_seq = -1 WHERE stream_seq = {a}",
                  f"UPDATE events SET stream_seq = {a} WHERE stream_seq = {b}",
                  f"UPDATE events SET stream_seq = {b} WHERE stream_seq = -1")
    reordered = await export_and_verify()
    assert reordered.exit_code == 1
    assert "[tree] checkpoint sbt-status@7" in reordered.output and "among leaves 0...6" in reordered.output
    await execute(system, f"UPDATE events SET stream_seq = -1 WHERE stream_seq = {a}",
                  f"UPDATE events SET stream_seq = {a} WHERE stream_seq = {b}",
                  f"UPDATE events SET stream_seq = {b} WHERE stream_seq = -1")

    # 4. A checkpoint forged in storage.
    await execute(system, f"UPDATE ledger_checkpoints SET root_hash = '{'ab' * 32}' WHERE tree_size = 7")
    forged = await export_and_verify()
    assert forged.exit_code == 1
    assert "[signature] checkpoint sbt-status@7: the signature does not match" in forged.output
    await execute(system, "DELETE FROM ledger_checkpoints WHERE tree_size = 7")
    assert (await export_and_verify()).exit_code == 0

    # The stream replayed into fresh tables gives the live projection's state hash ...
    replayed = sbt(system, "replay")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "replayed 9 events" in replayed.stdout and "OK: the replay reproduces" in replayed.stdout
    # ... and a projection changed behind the events' back is found.
    await execute(system, f"UPDATE case_status SET stage = 'sanctioned' WHERE case_id = '{events[0].subject}'")
    differs = sbt(system, "replay")
    assert differs.returncode == 1 and "DIFFERENT: case_status" in differs.stderr


async def restore(system, envelope: Envelope, stream_seq: int, document: str) -> None:
    engine = create_engine(system.databases.url("status"))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO events (stream_seq, event_id, event_type, producer, producerseq, subject, time, "
                     "hash, prevhash, envelope) VALUES (:seq, :id, :type, :producer, :pseq, :subject, :time, :hash, "
                     ":prev, :doc)"),
                {"seq": stream_seq, "id": envelope.id, "type": envelope.type, "producer": envelope.producer,
                 "pseq": envelope.producerseq, "subject": envelope.subject, "time": envelope.time,
                 "hash": envelope.hash, "prev": envelope.prevhash, "doc": document},
            )
    finally:
        await engine.dispose()
