"""The Pilkada 2020 reconciliation, through the real system: BKN's books of 26 Nov 2020 (1,005 reported,
727 recommended, 580 followed up, 147 not, 26 blocked of whom 8 were lifted after a late follow-up; of the
278 not recommended, 55 rejected at verification and 223 examined not proven) imported with ``sbt import history``, then the funnel, the block query and ``sbt reconcile`` agree with
them; a refused file writes nothing, and a second run doubles nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
AGENCIES = ["PEMPROV-SUMBAR", "PEMPROV-JAMBI", "PEMPROV-BENGKULU", "PEMPROV-KEPRI", "KEMENAG"]
VIOLATIONS = ["ETIK-MEDSOS", "ETIK-MEDSOS-INTERAKSI", "ETIK-ATRIBUT", "ETIK-FOTO-CALON"]
HEADER = ["nip", "nama", "instansi", "pemilihan", "pelanggaran", "tanggal_laporan", "tanggal_rekomendasi",
          "tanggal_sk", "tanggal_blokir", "tanggal_buka_blokir", "hasil", "tanggal_putusan"]
REJECTED, NOT_PROVEN = 55, 223


def sbt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The command in English, the words these tests read (Indonesian is the default)."""
    return subprocess.run([sys.executable, "-m", "services.cli", "--lang", "en", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


def nip(number: int) -> str:
    birth = dt.date(1970, 1, 1) + dt.timedelta(days=number)
    return f"{birth:%Y%m%d}199803{1 + number % 2}{1 + number % 999:03d}"


def books(total: int = 1005, recommended: int = 727, followed: int = 580, blocked: int = 26,
          lifted: int = 8) -> list[list[object]]:
    """The rows: the first ``recommended`` recommended; of those the first ``followed`` followed up, the last
    ``lifted`` of them after a block; the last ``blocked - lifted`` recommended ones blocked still. The books
    say how each unrecommended case ended: every fifth rejected, the others not proven, a week after the report."""
    rows: list[list[object]] = []
    for i in range(total):
        report = dt.date(2020, 9, 1) + dt.timedelta(days=i % 80)
        rec = report + dt.timedelta(days=10) if i < recommended else None
        decree = block = None
        if i < followed:
            decree = rec + dt.timedelta(days=6)
            if i >= followed - lifted:
                block, decree = rec + dt.timedelta(days=20), rec + dt.timedelta(days=30)
        elif rec is not None and i >= recommended - (blocked - lifted):
            block = rec + dt.timedelta(days=20)
        outcome = decided = None
        if rec is None:
            outcome, decided = ("ditolak" if i % 5 == 0 else "tidak_terbukti"), report + dt.timedelta(days=7)
        rows.append([nip(i), f"ASN {i}", AGENCIES[i % len(AGENCIES)], "PILKADA-2020", VIOLATIONS[i % len(VIOLATIONS)],
                     report, rec, decree, block, None, outcome, decided])
    return rows


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


async def test_pilkada_2020_books_imported_then_reconciled(make_system, tmp_path):
    system = await make_system("intake", "recommendation", "sanction", "blocking", "status",
                               extra_env={"SBT_BLOCKING_POLICY": "decision", "SBT_SWEEP_INTERVAL_SECONDS": "0"})
    env = system.env
    rows = books()

    # A file with bad rows is refused whole: each bad line named, nothing written, exit 1.
    bad = [list(row) for row in rows[:20]]
    bad[2][0] = "19700101 199803 1 000"                 # line 4: serial 000
    bad[5][5] = 44136                                   # line 7: a number, not a date
    bad[7][2] = "PEMPROV-ATLANTIS"                      # line 9: unknown agency
    bad[9][6] = bad[9][5] - dt.timedelta(days=1)        # line 11: recommendation before the report
    bad[12][6:11] = [None] * 5                          # line 14: no recommendation and no outcome
    refused = await asyncio.to_thread(sbt, env, "import", "history", str(write_xlsx(tmp_path / "bad.xlsx", bad)))
    assert refused.returncode == 1, refused.stderr
    for line, reason in ((4, "serial must be 001 to 999"), (7, "is a number, not a date"),
                         (9, "unknown agency code PEMPROV-ATLANTIS"), (11, "is before the report_date"),
                         (14, "outcome: required without a recommendation_date")):
        assert f"line {line}: " in refused.stderr and reason in refused.stderr, refused.stderr
    assert "nothing imported" in refused.stderr
    for service in ("intake", "recommendation", "sanction", "blocking"):
        assert await system.scalar(service, "SELECT count(*) FROM outbox WHERE envelope LIKE :mark",
                                   mark='%"imported":true%') == 0
    assert await system.scalar("intake", "SELECT count(*) FROM cases") == 0

    # The books, in one run.
    path = write_xlsx(tmp_path / "rekonsiliasi-2020.xlsx", rows)
    imported = await asyncio.to_thread(sbt, env, "import", "history", str(path), "--by", "operator.bkn")
    assert imported.returncode == 0, imported.stderr
    observer = system.token("BKN", "observer")

    async def funnel() -> dict:
        async with system.client("status", observer) as client:
            return (await client.get("/v1/stats", params={"election": "PILKADA-2020"})).json()["total"]

    async def folded() -> bool:
        figures = await funnel()
        return figures["reported"] == 1005 and figures["ever_blocked"] == 26 and figures["unblocked"] == 8

    await eventually(folded, 120, "the status service folded the imported books")
    figures = await funnel()
    assert (figures["reported"], figures["recommended"], figures["followed_up"]) == (1005, 727, 580)
    assert figures["recommended"] - figures["followed_up"] == 147 == figures["awaiting_ppk"]
    assert (figures["ever_blocked"], figures["blocked"], figures["unblocked_after_followup"]) == (26, 18, 8)
    assert figures["unblocked_by_hand"] == 0 and figures["overdue"] == 0
    assert sum(1 for row in rows if row[10] == "ditolak") == REJECTED and REJECTED + NOT_PROVEN == 1005 - 727
    assert (figures["rejected"], figures["not_proven"]) == (REJECTED, NOT_PROVEN)

    # None of the imported cases is in today's verifiers' or examiners' worklist; each is closed in its stage.
    for agency, role, stage, closed in (("BAWASLU", "verifier", "awaiting_verification", ("rejected", REJECTED)),
                                        ("BKN", "examiner", "awaiting_examination", ("not_proven", NOT_PROVEN))):
        async with system.client("recommendation", system.token(agency, role)) as client:
            waiting = await client.get("/v1/cases", params={"stage": stage, "election_code": "PILKADA-2020"})
            assert waiting.status_code == 200 and waiting.json()["items"] == [], waiting.text
            listed, after = 0, None
            while True:
                page = (await client.get("/v1/cases", params={"stage": closed[0], "limit": 200,
                                                              **({"after": after} if after else {})})).json()
                listed += len(page["items"])
                if not (after := page["next_cursor"]):
                    break
            assert listed == closed[1], (stage, listed)

    # The block query answers a block still in force as blocked, a lifted one as not.
    siasn = system.token("SIASN", "personnel")
    async with system.client("blocking", siasn) as client:
        still = (await client.get(f"/v1/personnel/{rows[726][0]}/block")).json()
        lifted = (await client.get(f"/v1/personnel/{rows[579][0]}/block")).json()
    assert still["blocked"] is True and lifted["blocked"] is False

    # An imported case has no running deadline: a sweep as of today announces nothing.
    async with system.client("sanction", system.token("BKN", "admin")) as client:
        swept = (await client.post("/v1/sweeps", json={"as_of": dt.date.today().isoformat()})).json()
    assert swept["warnings"] == [] and swept["overdue"] == []

    # The events carry who imported them and from which line, signed by their own producers.
    event = json.loads(await system.scalar(
        "status", "SELECT envelope FROM events WHERE event_type = 'sbt.followup.recorded.v1' ORDER BY stream_seq LIMIT 1"))
    assert event["source"] == "/sbt/sanction" and event["signature"]
    assert event["data"]["imported"] is True and event["data"]["imported_by"] == "operator.bkn"
    assert event["data"]["source"] == "rekonsiliasi-2020.xlsx:2"

    # A second run of the same file doubles nothing.
    logged = await system.scalar("status", "SELECT count(*) FROM events")
    again = await asyncio.to_thread(sbt, env, "import", "history", str(path), "--by", "operator.bkn", "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["cases"] == 1005 and set(summary["events_staged"].values()) == {0}, summary
    assert summary["events_already_there"] == 2 * 1005 + 3 * 727 + 580 + 26 + 8 + REJECTED + 2 * NOT_PROVEN
    await asyncio.sleep(1.5)
    assert await system.scalar("status", "SELECT count(*) FROM events") == logged
    assert await funnel() == figures

    # Reconciled against the same books: no difference, for every agency.
    agency = AGENCIES[0]
    matched = await asyncio.to_thread(sbt, env, "reconcile", "--agency", agency, str(path), "--json")
    assert matched.returncode == 0, matched.stdout + matched.stderr
    answer = json.loads(matched.stdout)
    assert answer["differences"] == [] and answer["totals"]["spreadsheet"] == answer["totals"]["sbt"]
    assert answer["totals"]["sbt"]["reported"] == sum(1 for row in rows if row[2] == agency)

    # ... and against a copy with three rows changed: exactly those three.
    ours = [row for row in rows if row[2] == agency]
    changed = [list(row) for row in ours]
    changed[0][7] = changed[0][7] + dt.timedelta(days=1)       # another decree date
    unrecommended = next(i for i, row in enumerate(changed) if row[10] == "ditolak")
    changed[unrecommended][10] = "tidak_terbukti"               # another outcome
    reopened = changed[unrecommended][0]
    gone = changed.pop(3)                                       # a case the books lost
    extra = [nip(5000), "ASN baru", agency, "PILKADA-2020", "ETIK-ATRIBUT", dt.date(2020, 10, 1), None, None, None, None,
             "dalam_proses", None]
    changed.append(extra)                                       # a case SBT never had
    copy = write_xlsx(tmp_path / "copy.xlsx", changed)
    out = tmp_path / "selisih.xlsx"
    differed = await asyncio.to_thread(sbt, env, "reconcile", "--agency", agency, str(copy), "--json", "--out", str(out))
    assert differed.returncode == 1, differed.stderr
    found = {(d["nip"], d["kind"], d["field"]) for d in json.loads(differed.stdout)["differences"]}
    assert found == {(ours[0][0], "date_differs", "decree_date"), (gone[0], "missing_in_spreadsheet", "case"),
                     (extra[0], "missing_in_sbt", "case"), (reopened, "outcome_differs", "outcome")}
    workbook = load_workbook(out)
    assert workbook.sheetnames == ["differences", "totals"]
    assert workbook["differences"].max_row == 5
    table = await asyncio.to_thread(sbt, env, "reconcile", "--agency", agency, str(copy))
    assert table.returncode == 1 and "4 difference(s)" in table.stdout

    # The books corrected: a blocked civil servant's PPK did act. The decree is imported (its stage was
    # missing), the block is lifted once, after the follow-up; nothing already there is written again.
    corrected = [list(row) for row in rows]
    corrected[726][7] = corrected[726][8] + dt.timedelta(days=3)
    fixed = await asyncio.to_thread(sbt, env, "import", "history", str(write_xlsx(tmp_path / "koreksi.xlsx", corrected)))
    assert fixed.returncode == 0, fixed.stderr
    assert "intake 0 events" in fixed.stderr and "sanction 1 events" in fixed.stderr, fixed.stderr

    async def lifted_once() -> bool:
        now = await funnel()
        return now["followed_up"] == 581 and now["unblocked_after_followup"] == 9

    await eventually(lifted_once, 60, "the corrected books folded")
    assert (await funnel())["blocked"] == 17
    case_id = await system.scalar("status", "SELECT case_id FROM case_status WHERE nip = :nip", nip=rows[726][0])
    await asyncio.sleep(1)
    assert await system.scalar("status", "SELECT count(*) FROM events WHERE subject = :case AND event_type = "
                               "'sbt.personnel.unblocked.v1'", case=case_id) == 1
    async with system.client("blocking", siasn) as client:
        assert (await client.get(f"/v1/personnel/{rows[726][0]}/block")).json()["blocked"] is False
