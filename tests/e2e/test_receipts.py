"""Signed receipts on the real intake: every accepted report (an agency's, the public's) is answered with a
receipt signed by intake's key; `sbt verify-receipt` checks it offline and refuses a changed one; the public
complaint check confirms the holder's claim with it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shared import receipts
from shared.events.signing import public_pem, signing_key_from_settings
from tests.e2e.reports import random_nip, report_body
from tests.harness.system import ROOT

pytestmark = pytest.mark.e2e


def _verify(system, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.cli", "--lang", "en", "verify-receipt", *args], env=system.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


async def test_a_receipt_is_signed_verifiable_offline_and_proves_the_holders_claim(make_system, tmp_path):
    system = await make_system("intake", extra_env={"SBT_CLOCK_FIXED": "2024-10-20T08:30:00+07:00"})
    body = report_body(random_nip())
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        filed = await client.post("/v1/reports", json=body, headers={"Idempotency-Key": "r-1"})
        again = await client.post("/v1/reports", json=body, headers={"Idempotency-Key": "r-1"})
    assert filed.status_code == 201, filed.text
    answer = filed.json()
    receipt = answer["receipt"]
    assert receipt["complaint_number"] == answer["complaint_number"]
    assert receipt["received_at"] == "2024-10-20T01:30:00Z" and receipt["issuer"] == "intake"
    assert again.json()["receipt"] == receipt, "a replayed answer carries the same receipt"

    saved, filed_body = tmp_path / "answer.json", tmp_path / "report.json"
    saved.write_text(json.dumps(answer))
    filed_body.write_text(json.dumps(body))
    ok = _verify(system, str(saved), "--body", str(filed_body))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"OK: {answer['complaint_number']}" in ok.stdout and "the given report matches it" in ok.stdout

    # Against intake's public key given by hand; and against some other key, refused.
    key = tmp_path / "intake.pem"
    key.write_text(public_pem(signing_key_from_settings(system.settings, "intake").public))
    assert _verify(system, str(saved), "--key", str(key)).returncode == 0
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = tmp_path / "other.pem"
    other.write_text(public_pem(Ed25519PrivateKey.generate().public_key()))
    refused = _verify(system, str(saved), "--key", str(other))
    assert refused.returncode == 1 and "not a registered key of intake" in refused.stderr + refused.stdout

    # A receipt changed after signing (an earlier time, to look first) is no longer intake's.
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**receipt, "received_at": "2024-10-01T01:30:00Z"}))
    refused = _verify(system, str(forged))
    assert refused.returncode == 1 and "does not carry a valid signature of intake" in refused.stderr + refused.stdout
    # A report other than the one filed does not match its hash.
    filed_body.write_text(json.dumps({**body, "description": "Isi lain yang tidak pernah dilaporkan."}))
    refused = _verify(system, str(saved), "--body", str(filed_body))
    assert refused.returncode == 1 and "is not what this receipt says was filed" in refused.stderr + refused.stdout

    # The public form: a receipt too, and the complaint check confirms it.
    async with system.client("intake") as client:
        public = await client.post("/v1/public/reports", json={k: v for k, v in report_body().items()
                                                              if k != "reporter"})
        assert public.status_code == 201, public.text
        number, mine = public.json()["complaint_number"], receipts.Receipt.model_validate(public.json()["receipt"])
        plain = await client.get(f"/v1/public/complaints/{number}")
        assert plain.status_code == 200 and plain.json() == {"stage": "awaiting_verification"}
        confirmed = await client.get(f"/v1/public/complaints/{number}", params={"receipt": receipts.encode(mine)})
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["receipt"] == {"verified": True, "received_at": mine.received_at,
                                               "filed_sha256": mine.filed_sha256}
        # Someone else's receipt, a changed one, or garbage: 422 naming the receipt.
        theirs = receipts.Receipt.model_validate(receipt)
        changed = mine.model_copy(update={"filed_sha256": "0" * 64})
        for token, reason in ((receipts.encode(theirs), "is the receipt of another complaint number"),
                              (receipts.encode(changed), "does not carry a valid signature of intake"),
                              ("bm90IGEgcmVjZWlwdA", "not a receipt")):
            answer = await client.get(f"/v1/public/complaints/{number}", params={"receipt": token})
            assert answer.status_code == 422, answer.text
            error = answer.json()["errors"][0]
            assert error["field"] == "query.receipt" and reason in error["reason"], error
