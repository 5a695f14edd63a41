"""A second ``sbt import history`` never writes over a decision made live in SBT between the runs: a row
whose stage conflicts with the live one is refused with its line and reason, nothing is written, and the
live recommendation stands. The agency-facing words are Indonesian by default and English with --lang en."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys

import pytest

from tests.e2e.test_history_reconciliation import ROOT, nip, write_xlsx
from tests.harness.cases import examine_proven
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e


def sbt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


def _row(i: int, *, recommended: bool) -> list[object]:
    report = dt.date(2020, 9, 1) + dt.timedelta(days=i)
    rec = report + dt.timedelta(days=10) if recommended else None
    return [nip(i), f"ASN {i}", "PEMPROV-JAMBI", "PILKADA-2020", "ETIK-MEDSOS", report, rec, None, None, None,
            None if recommended else "dalam_proses", None]


async def test_reimport_refuses_a_row_over_a_live_recommendation(make_system, tmp_path):
    system = await make_system("intake", "recommendation", "sanction", "blocking", "status",
                               extra_env={"SBT_SWEEP_INTERVAL_SECONDS": "0"})
    # The default language is the environment's when it names one: none here, so Indonesian.
    env = {k: v for k, v in system.env.items() if k not in ("LANGUAGE", "LANG", "LC_ALL")} | {"LANG": "C.UTF-8", "COLUMNS": "200"}

    first = [_row(0, recommended=True), _row(1, recommended=False), _row(2, recommended=True)]
    imported = await asyncio.to_thread(sbt, env, "import", "history", str(write_xlsx(tmp_path / "a.xlsx", first)))
    assert imported.returncode == 0, imported.stderr
    assert "kasus dari a.xlsx" in imported.stderr, imported.stderr

    # Case of line 3 (in progress in the books) is decided live: verified, heard, examined proven.
    case_id = await system.scalar("intake", "SELECT id FROM cases WHERE nip = :nip", nip=first[1][0])

    async def projected() -> bool:
        return await system.scalar("recommendation", "SELECT count(*) FROM cases WHERE case_id = :c", c=case_id) == 1

    await eventually(projected, 60, "the recommendation service saw the imported case")
    async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
        verified = await client.post(f"/v1/cases/{case_id}/verification",
                                     json={"outcome": "accepted", "reason": "Bukti cukup untuk diperiksa."})
    assert verified.status_code == 201, verified.text
    examined = await examine_proven(system, case_id, {"outcome": "proven", "category": "ethics",
                                                      "sanction_level": "moral_open",
                                                      "legal_basis": "PP 42/2004 pasal 11", "reason": "Terbukti."})
    assert examined.status_code == 201, examined.text
    live_number = examined.json()["examination"]["recommendation_number"]
    async def outboxes() -> dict[str, int]:
        return {service: await system.scalar(service, "SELECT count(*) FROM outbox")
                for service in ("intake", "recommendation", "sanction", "blocking")}

    # The live recommendation's consequences (the sanction's obligation and its deadline) land first: the
    # outboxes are read once they stand still, so only the import could still change them.
    async def still() -> dict[str, int] | None:
        seen = await outboxes()
        await asyncio.sleep(1.0)
        return seen if await outboxes() == seen else None

    outbox_before = await eventually(still, 30, "the outboxes standing still after the live decision")

    # The corrected books now carry a recommendation of their own for that case: refused, nothing written.
    second = [first[0], _row(1, recommended=True), first[2]]
    path = write_xlsx(tmp_path / "b.xlsx", second)
    refused = await asyncio.to_thread(sbt, env, "import", "history", str(path))
    assert refused.returncode == 1, refused.stderr
    assert f"baris 3: tanggal_rekomendasi: rekomendasi {live_number} sudah diterbitkan melalui SBT pada" \
        in refused.stderr, refused.stderr
    assert "tidak ada yang diimpor" in refused.stderr
    english = await asyncio.to_thread(sbt, env, "--lang", "en", "import", "history", str(path))
    assert english.returncode == 1
    assert f"line 3: recommendation_date: recommendation {live_number} was already issued through SBT on" \
        in english.stderr, english.stderr
    for service, count in outbox_before.items():
        assert await system.scalar(service, "SELECT count(*) FROM outbox") == count, service
    assert await system.scalar("recommendation", "SELECT recommendation_number FROM cases WHERE case_id = :c",
                               c=case_id) == live_number

    # A row refused for what it says: Indonesian by default, English by choice (and by LANG).
    bad = [list(first[0])]
    bad[0][0] = "19700101 199803 1 000"
    bad_path = write_xlsx(tmp_path / "bad.xlsx", bad)
    indonesian = await asyncio.to_thread(sbt, env, "import", "history", str(bad_path))
    assert indonesian.returncode == 1 and "baris 2: nip:" in indonesian.stderr, indonesian.stderr
    for chosen in (("--lang", "en"),):
        english = await asyncio.to_thread(sbt, env, *chosen, "import", "history", str(bad_path))
        assert "line 2: nip:" in english.stderr and "nothing imported" in english.stderr, english.stderr
    by_lang = await asyncio.to_thread(sbt, env | {"LANG": "en_US.UTF-8"}, "import", "history", str(bad_path))
    assert "line 2: nip:" in by_lang.stderr, by_lang.stderr

    # Reconcile's totals in both languages.
    totals_id = await asyncio.to_thread(sbt, env, "reconcile", "--agency", "PEMPROV-JAMBI", str(path))
    assert "PEMPROV-JAMBI: jumlah" in totals_id.stdout and "dilaporkan" in totals_id.stdout, totals_id.stdout
    totals_en = await asyncio.to_thread(sbt, env, "--lang", "en", "reconcile", "--agency", "PEMPROV-JAMBI", str(path))
    assert "PEMPROV-JAMBI: totals" in totals_en.stdout and "reported" in totals_en.stdout, totals_en.stdout
