"""Reference data on real parts: `sbt import` into intake's real database while intake runs, its events on
the real stream, and reports routed with the roster."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from services.intake.reference.generator import SeedAgency, generate_roster, write_roster_csv
from services.intake.reference.importer import import_roster
from shared.migrations import upgrade
from tests.e2e.reports import report_body
from tests.harness import database as test_databases
from tests.harness.ports import eventually
from tests.harness.system import ROOT

pytestmark = pytest.mark.e2e

SEED = ROOT / "deploy" / "seed"
AGENCIES = [SeedAgency("BKN", "central", None), SeedAgency("KOTA-BANDUNG", "city", "JAWA BARAT"),
            SeedAgency("PEMPROV-BALI", "province", "BALI")]


def _sbt_import(system, kind: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.cli", "import", kind, str(path)], env=system.env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def _roster_file(folder: Path, rows: list[tuple], extra_lines: str = "") -> Path:
    path = folder / "roster.csv"
    with path.open("w", newline="") as stream:
        write_roster_csv(iter(rows), stream)
        stream.write(extra_lines)
    return path


async def test_imported_reference_data_is_published_and_routes_reports(make_system, tmp_path):
    system = await make_system("intake", "status", reference_data=False)
    for kind, name in (("agencies", "agencies.csv"), ("violations", "violations.csv"), ("elections", "elections.json")):
        done = _sbt_import(system, kind, SEED / name)
        assert done.returncode == 0, done.stderr
    rows = list(generate_roster(40, AGENCIES, seed=11))
    roster = _roster_file(tmp_path, rows, "198609262015051000,Salah Serial,BKN,,,,PNS\n")
    done = _sbt_import(system, "roster", roster)
    assert done.returncode == 1, done.stderr  # a refused row is named and makes the exit code 1 ...
    assert "40 imported" in done.stderr  # ... while a roster keeps its valid rows and "1 rejected" in done.stderr
    assert "line 42: nip: serial must be 001 to 999, got 000" in done.stderr

    # The running intake relay publishes what the import staged; the status service logs every event.
    async def published() -> bool:
        counts = [await system.scalar("status", "SELECT count(*) FROM events WHERE event_type = :t", t=t)
                  for t in ("sbt.agency.registered.v1", "sbt.violation.registered.v1", "sbt.election.registered.v1")]
        return counts == [67, 19, 8]

    await eventually(published, 20, "reference events on the stream")
    assert await system.scalar("intake", "SELECT count(*) FROM roster") == 40

    # Importing the same agencies again changes nothing and publishes nothing.
    again = _sbt_import(system, "agencies", SEED / "agencies.csv")
    assert "0 new, 0 changed, 67 unchanged" in again.stderr
    assert await system.scalar("intake", "SELECT count(*) FROM outbox WHERE event_type = 'sbt.agency.registered.v1'") == 67

    # A report without agency or province is routed by the roster; one on a NIP missing from it is flagged.
    nip, _, agency, _, _, province, _ = next(r for r in rows if r[2] == "KOTA-BANDUNG")
    token = system.token("BAWASLU", "reporter")
    async with system.client("intake", token) as client:
        routed = await client.post("/v1/reports", json=report_body(nip, agency_code=None, province=None))
        misdirected = await client.post("/v1/reports", json=report_body(rows[1][0], agency_code="PEMPROV-JABAR"))
        unknown = await client.post("/v1/reports", json=report_body("199001012015031001", agency_code="BKN"))
    assert routed.status_code == misdirected.status_code == unknown.status_code == 201, unknown.text

    async def status_of(nip_value: str) -> dict | None:
        async with system.client("status", system.token("BKN", "observer")) as client:
            cases = (await client.get(f"/v1/asn/{nip_value}/status")).json()["cases"]
        return cases[0] if cases else None

    case = await eventually(lambda: status_of(nip), 15, "routed case in the status")
    assert (case["agency_code"], case["province"], case["nip_in_roster"]) == (agency, province, True)
    case = await eventually(lambda: status_of(rows[1][0]), 15, "misdirected case in the status")
    assert (case["agency_code"], case["nip_in_roster"]) == (rows[1][2], True)  # the roster wins over the reporter
    case = await eventually(lambda: status_of("199001012015031001"), 15, "unknown NIP in the status")
    assert (case["agency_code"], case["nip_in_roster"]) == ("BKN", False)
    assert await system.scalar("intake", "SELECT agency_code FROM reports WHERE nip = :n", n=nip) == agency


async def test_the_roster_import_streams_in_batches_and_a_reimport_updates_only_what_changed(tmp_path):
    databases = test_databases.TestDatabases(tmp_path, ["intake"])
    await databases.create()
    try:
        url = databases.url("intake")
        await asyncio.to_thread(upgrade, "intake", url)
        rows = list(generate_roster(1_050, AGENCIES, seed=12))
        seen: list[int] = []
        report = await import_roster(url, _roster_file(tmp_path, rows), batch_size=100,
                                     progress=lambda r: seen.append(r.rows_read))
        assert (report.rows_read, report.imported, report.written, report.rejected.count) == (1050, 1050, 1050, 0)
        assert seen[:3] == [100, 200, 300] and seen[-1] == 1050 and len(seen) == 11

        moved = (*rows[7][:2], "PEMPROV-BALI", *rows[7][3:5], "BALI", rows[7][6])
        changed = [*rows[:7], moved, *rows[8:], rows[3]]  # plus one NIP twice: the later row wins
        report = await import_roster(url, _roster_file(tmp_path, changed), batch_size=5000)
        assert (report.imported, report.written, report.duplicates) == (1050, 1, 1)

        from sqlalchemy import text

        from shared.db import create_engine

        engine = create_engine(url)
        async with engine.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM roster"))).scalar()
            where = (await connection.execute(text("SELECT agency_code, province FROM roster WHERE nip = :n"),
                                              {"n": rows[7][0]})).one()
        await engine.dispose()
        assert count == 1050
        assert tuple(where) == ("PEMPROV-BALI", "BALI")
    finally:
        await databases.drop()


async def test_the_shipped_seed_is_loaded_on_the_first_start_only(tmp_path):
    """What `sbt run` does before it starts the services (services/cli/runner.py): the seed, with its events
    for the other services, once; a later start leaves what an operator imported since alone."""
    from services.intake.reference import seeding
    from shared.clock import Clock
    from shared.db import create_engine

    databases = test_databases.TestDatabases(tmp_path, ["intake"])
    await databases.create()
    url = databases.url("intake")
    engine = create_engine(url)
    try:
        await asyncio.to_thread(upgrade, "intake", url)
        first = await seeding.load_once(url, clock=Clock())
        assert first.loaded and [(r.kind, r.new) for r in first.reports] == [
            ("agencies", 67), ("violations", 19), ("elections", 8)]
        from sqlalchemy import text

        async with engine.begin() as connection:
            events = (await connection.execute(text("SELECT count(*) FROM outbox"))).scalar()
            period = (await connection.execute(text(
                "SELECT oversight_from, oversight_until FROM elections WHERE code = 'PILKADA-2020'"))).one()
            await connection.execute(text("UPDATE agencies SET ppk_name = 'Dedi Mulyadi' WHERE code = 'PEMPROV-JABAR'"))
        assert events == 67 + 19 + 8
        assert [str(day) for day in period] == ["2019-09-30", "2021-06-30"]

        again = await seeding.load_once(url, clock=Clock())
        assert not again.loaded
        async with engine.connect() as connection:
            kept = (await connection.execute(text("SELECT ppk_name FROM agencies WHERE code = 'PEMPROV-JABAR'"))).scalar()
            events = (await connection.execute(text("SELECT count(*) FROM outbox"))).scalar()
        assert kept == "Dedi Mulyadi" and events == 67 + 19 + 8
    finally:
        await engine.dispose()
        await databases.drop()
