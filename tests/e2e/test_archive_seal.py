"""Intake records an election archive only under the status service's seal: a record whose cases, election
or event count differ from what the log signed, a seal signed by another key, or no seal at all, is refused
(422 naming the field), writes nothing, and a later sweep retires nothing; the real ``sbt archive`` path
records and the sweep then retires."""

from __future__ import annotations

import base64
import datetime as dt

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.clock import JAKARTA
from shared.ledger.archive import MANIFEST_FIELDS
from tests.e2e.reports import random_nip
from tests.e2e.test_retention import ELECTION, _decide, _file, _sweep, sbt
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e


def _resigned(seal: dict, key: Ed25519PrivateKey, **changes: object) -> dict:
    """The seal with these changes, signed the way the log signs, but by ``key``."""
    forged = {**seal, **changes}
    manifest = {name: forged[name] for name in MANIFEST_FIELDS}
    message = b"sbt-archive/1\n" + orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS)
    forged["signature"] = base64.b64encode(key.sign(message)).decode()
    return forged


async def test_only_a_sealed_archive_is_recorded_and_lets_the_sweep_retire(make_system, tmp_path):
    system = await make_system("intake", "recommendation", "status", extra_env={
        "SBT_LEDGER_CHECKPOINT_SECONDS": "0", "SBT_SWEEP_INTERVAL_SECONDS": "0"})
    rejected = await _file(system, random_nip())
    other = await _file(system, random_nip())
    case_id = rejected["case_id"]
    await _decide(system, case_id, "rejected")
    closed_on = dt.datetime.now(JAKARTA).date()

    async def settled():
        stage = await system.scalar("intake", "SELECT stage FROM public_case_stage WHERE case_id = :id", id=case_id)
        sent = await system.scalar("intake", "SELECT count(*) FROM outbox")
        logged = await system.scalar("status", "SELECT count(*) FROM events WHERE producer = 'intake'")
        return (stage == "rejected" and logged == sent) or None

    await eventually(settled, 30, "intake folded the rejection and status logged intake's events")
    async with system.client("status", system.token("SBT", "admin")) as admin:
        assert (await admin.post("/v1/ledger/checkpoints")).status_code in (200, 201)
        response = await admin.get(f"/v1/ledger/archives/{ELECTION}")
    assert response.status_code == 200, response.text
    seal = orjson.loads(response.content.splitlines()[-1])
    assert seal["kind"] == "seal" and seal["case_ids"] == sorted([case_id, other["case_id"]])
    assert seal["closed_case_ids"] == [case_id]
    honest = {"election_code": ELECTION, "sha256": "a" * 64, "events": seal["events"],
              "case_ids": seal["case_ids"], "seal": seal}
    stranger = Ed25519PrivateKey.generate()
    stranger_case = await _file(system, random_nip())
    forgeries = {
        "no seal": ({k: v for k, v in honest.items() if k != "seal"}, "seal"),
        "a case added": ({**honest, "case_ids": sorted([*seal["case_ids"], stranger_case["case_id"]])}, "case_ids"),
        "a case left out": ({**honest, "case_ids": [case_id]}, "case_ids"),
        "another election": ({**honest, "election_code": "PEMILU-2029"}, "election_code"),
        "more events": ({**honest, "events": seal["events"] + 1}, "events"),
        "the manifest changed under the log's signature": (
            {**honest, "case_ids": [case_id, stranger_case["case_id"]],
             "seal": {**seal, "case_ids": [case_id, stranger_case["case_id"]]}}, "seal.signature"),
        "signed by another key": (
            {**honest, "case_ids": sorted([case_id, stranger_case["case_id"]]),
             "seal": _resigned(seal, stranger, case_ids=sorted([case_id, stranger_case["case_id"]]))},
            "seal.signature"),
        "signed by an unknown key id": (
            {**honest, "seal": _resigned(seal, stranger, key_id="insider")}, "seal.key_id"),
        "a verified flag instead of a seal": (
            {**{k: v for k, v in honest.items() if k != "seal"}, "verified": True}, "seal"),
    }
    async with system.client("intake", system.token("SBT", "admin")) as admin:
        for what, (body, field) in forgeries.items():
            refused = await admin.post("/v1/retention/archives", json=body)
            assert refused.status_code == 422, (what, refused.text)
            assert field in [error["field"] for error in refused.json()["errors"]], (what, refused.text)
    assert await system.scalar("intake", "SELECT count(*) FROM archived_cases") == 0
    assert await system.scalar("intake", "SELECT count(*) FROM election_archives") == 0
    waiting = await _sweep(system, closed_on + dt.timedelta(days=730))
    assert waiting["cases_retired"] == [] and waiting["waiting_for_archive"] == [case_id]

    # The real path: sbt archive verifies, sends the seal, intake checks it and records; the sweep retires.
    archive = tmp_path / "pilkada.jsonl"
    made = sbt(system, "archive", "--election", ELECTION, "--out", str(archive), "--url", system["status"].url,
               "--intake-url", system["intake"].url)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "1 closed cases may now be retired" in made.stdout, made.stdout
    assert await system.scalar("intake", "SELECT case_id FROM archived_cases") == case_id
    retired = await _sweep(system, closed_on + dt.timedelta(days=730))
    assert [item["case_id"] for item in retired["cases_retired"]] == [case_id]
