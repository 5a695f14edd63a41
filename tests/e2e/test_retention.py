"""Retention on the real system: the rules of deploy/seed/retention.json applied by intake's sweep as time
moves (the sweep is asked as of later days), each removal an event on the bus; a case retired only once its
election's signed archive is made and verified; the archive verifies offline and a changed line fails it;
after retirement the case is gone from the status service and the ledger still verifies."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from shared.clock import JAKARTA
from tests.e2e.reports import random_nip, report_body
from tests.e2e.streams import stream_documents
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ELECTION = "PILKADA-2024"
IDENTITY = {"category": "bawaslu", "name": "Kuskusnawati Lupa", "contact": "kuskus-8812@saksi.example"}


def sbt(system, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run([sys.executable, "-m", "services.cli", "--lang", "en", *args], env=system.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


async def _file(system, nip: str) -> dict:  # noqa: ANN001
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        response = await client.post("/v1/reports", json=report_body(nip, reporter=IDENTITY))
    assert response.status_code == 201, response.text
    return response.json()


async def _decide(system, case_id: str, outcome: str) -> None:  # noqa: ANN001
    async def known():
        async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
            return (await client.get(f"/v1/cases/{case_id}")).status_code == 200

    await eventually(known, 20, f"case {case_id} known to recommendation")
    async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
        response = await client.post(f"/v1/cases/{case_id}/verification",
                                     json={"outcome": outcome, "reason": "Alasan pengujian."})
    assert response.status_code == 201, response.text


async def _sweep(system, as_of: dt.date) -> dict:  # noqa: ANN001
    async with system.client("intake", system.token("SBT", "admin")) as admin:
        response = await admin.post("/v1/retention/sweeps", json={"as_of": as_of.isoformat()})
    assert response.status_code == 200, response.text
    return response.json()


async def _report(system, report_id: str) -> dict:  # noqa: ANN001
    async with system.client("intake", system.token("KASN", "verifier")) as verifier:
        response = await verifier.get(f"/v1/reports/{report_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def _status_cases(system, nip: str) -> list[dict]:  # noqa: ANN001
    async with system.client("status", system.token("BKN", "observer")) as client:
        response = await client.get(f"/v1/asn/{nip}/status")
    assert response.status_code == 200, response.text
    return response.json()["cases"]


async def _on_bus(system, event_type: str) -> list[dict]:  # noqa: ANN001
    """The data of every message of this type in the stream, read as an operator would."""
    return [document for document in await stream_documents(system, "SBT_EVENTS") if document["type"] == event_type]


async def test_rules_expire_identity_then_retire_the_case_only_after_a_verified_archive(make_system, tmp_path):
    system = await make_system("intake", "recommendation", "sanction", "status", extra_env={
        "SBT_LEDGER_CHECKPOINT_SECONDS": "0", "SBT_SWEEP_INTERVAL_SECONDS": "0"})
    rejected_nip, open_nip = random_nip(), random_nip()
    rejected = await _file(system, rejected_nip)
    kept = await _file(system, open_nip)
    case_id, report_id = rejected["case_id"], rejected["report_id"]
    await _decide(system, case_id, "rejected")
    await _decide(system, kept["case_id"], "accepted")
    closed_on = dt.datetime.now(JAKARTA).date()

    async def intake_knows_it_closed():
        return await system.scalar("intake", "SELECT stage FROM public_case_stage WHERE case_id = :id",
                                   id=case_id) == "rejected"

    await eventually(intake_knows_it_closed, 20, "intake folded the rejection")
    assert (await _report(system, report_id))["reporter_identity"] == "shown"

    # The rule for a rejected report: identity and evidence links one year, the case two.
    early = await _sweep(system, closed_on + dt.timedelta(days=364))
    assert early["identities_erased"] == [] and early["evidence_removed"] == []
    assert (await _report(system, report_id))["reporter"]["name"] == IDENTITY["name"]

    due = await _sweep(system, closed_on + dt.timedelta(days=365))
    assert [item["report_id"] for item in due["identities_erased"]] == [report_id]
    assert [item["report_id"] for item in due["evidence_removed"]] == [report_id]
    assert due["cases_retired"] == [] and due["waiting_for_archive"] == []
    shown = await _report(system, report_id)
    assert shown["reporter_identity"] == "erased" and shown["reporter"] is None and shown["evidence_urls"] == []
    assert await system.scalar("intake", "SELECT count(*) FROM reporter_identity_keys WHERE report_id = :id",
                               id=report_id) == 0
    # The open case's report keeps its identity.
    assert (await _report(system, kept["report_id"]))["reporter_identity"] == "shown"

    async def expired_on_bus():
        found = await _on_bus(system, "sbt.report.identity_expired.v1")
        return found or None

    expired = await eventually(expired_on_bus, 20, "identity_expired on the bus")
    assert [e["data"]["report_id"] for e in expired] == [report_id]
    assert expired[0]["data"]["kept_days"] == 365 and expired[0]["signature"] and expired[0]["source"].endswith("intake")
    assert IDENTITY["name"].encode() not in orjson.dumps(expired)
    assert (await _sweep(system, closed_on + dt.timedelta(days=400)))["identities_erased"] == []  # once only

    # Two years on, the case's time has come, but no archive of its election holds it: it stays.
    waiting = await _sweep(system, closed_on + dt.timedelta(days=730))
    assert waiting["cases_retired"] == [] and waiting["waiting_for_archive"] == [case_id]
    assert [c["case_id"] for c in await _status_cases(system, rejected_nip)] == [case_id]

    # The archive: made, verified, recorded; a changed line fails verification.
    async with system.client("status", system.token("SBT", "admin")) as admin:
        async def applied():  # every event so far is a leaf before the archive is cut
            sent = await system.scalar("intake", "SELECT count(*) FROM outbox")
            logged = await system.scalar("status", "SELECT count(*) FROM events WHERE producer = 'intake'")
            return logged == sent or None

        await eventually(applied, 20, "status applied intake's events")
        assert (await admin.post("/v1/ledger/checkpoints")).status_code in (200, 201)
    archive = tmp_path / "pilkada.jsonl"
    made = sbt(system, "archive", "--election", ELECTION, "--out", str(archive), "--url", system["status"].url,
               "--intake-url", system["intake"].url)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "2 cases" in made.stdout and "1 closed cases may now be retired" in made.stdout, made.stdout
    assert await system.scalar("intake", "SELECT case_id FROM archived_cases") == case_id  # not the open one
    verified = sbt(system, "verify", str(archive))
    assert verified.returncode == 0 and "OK: verified" in verified.stdout, verified.stdout + verified.stderr
    lines = archive.read_bytes().splitlines(keepends=True)
    statuses = [i for i, raw in enumerate(lines) if orjson.loads(raw)["kind"] == "status"]
    assert len(statuses) == 2
    for tamper in ("status", "drop"):
        changed = list(lines)
        if tamper == "status":
            document = orjson.loads(changed[statuses[0]])
            document["status"]["stage"] = "sanctioned"
            changed[statuses[0]] = orjson.dumps(document) + b"\n"
        else:
            del changed[1]
        forged = tmp_path / f"forged-{tamper}.jsonl"
        forged.write_bytes(b"".join(changed))
        refused = sbt(system, "verify", str(forged))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "FAILED" in refused.stderr + refused.stdout and "[seal]" in refused.stdout

    # Now the case is retired: gone from intake, from the status API, and the ledger still verifies.
    retired = await _sweep(system, closed_on + dt.timedelta(days=730))
    assert [item["case_id"] for item in retired["cases_retired"]] == [case_id]
    assert await system.scalar("intake", "SELECT count(*) FROM reports WHERE case_id = :id", id=case_id) == 0
    assert (await _sweep(system, closed_on + dt.timedelta(days=800)))["cases_retired"] == []

    async def gone_from_status():
        return await _status_cases(system, rejected_nip) == [] or None

    await eventually(gone_from_status, 20, "the retired case gone from the status API")

    async def gone_from_recommendation():
        async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
            return (await client.get(f"/v1/cases/{case_id}")).status_code == 404 or None

    await eventually(gone_from_recommendation, 20, "the retired case gone from recommendation")
    async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
        assert (await client.get(f"/v1/cases/{kept['case_id']}")).status_code == 200
    assert [c["case_id"] for c in await _status_cases(system, open_nip)] == [kept["case_id"]]
    async with system.client("status", system.token("SBT", "admin")) as admin:
        assert (await admin.get(f"/v1/cases/{case_id}/timeline")).status_code == 404
    retired_events = await _on_bus(system, "sbt.case.retired.v1")

    async def sanction_applied():  # folded (no obligation here to remove), not dead-lettered
        return await system.scalar("sanction", "SELECT count(*) FROM inbox WHERE event_id = :id",
                                   id=retired_events[0]["id"]) == 1 or None

    await eventually(sanction_applied, 20, "sanction applied the retirement")
    assert await system.scalar("sanction", "SELECT count(*) FROM dead_letters") == 0
    assert [e["data"]["case_id"] for e in retired_events] == [case_id]
    assert retired_events[0]["data"]["archive_sha256"] == made.stdout.split("sha256 ")[1].split(";")[0]
    assert await system.scalar("status", "SELECT count(*) FROM events WHERE subject = :id AND envelope LIKE :p",
                               id=case_id, p="%Kota Bandung%") == 0

    export = tmp_path / "ledger.jsonl"
    exported = sbt(system, "export", str(export), "--url", system["status"].url)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    ledger = sbt(system, "verify", str(export))
    assert ledger.returncode == 0 and "OK: verified" in ledger.stdout, ledger.stdout + ledger.stderr
    assert "redacted 0" not in ledger.stdout and "redacted" in ledger.stdout

    # Rebuilt from the stream (which still holds the case's events), the projection is the live one.
    replayed = sbt(system, "replay", "--processes", "0")
    assert replayed.returncode == 0 and "OK: the replay reproduces" in replayed.stdout, \
        replayed.stdout + replayed.stderr
