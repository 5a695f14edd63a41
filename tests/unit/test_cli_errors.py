"""The commands' exit codes and errors: 0 all done, 1 something refused or unreachable, 2 used wrongly; a
user's mistake is one line on stderr, never a traceback; the default addresses are where `make run` puts
the services (their ports plus SBT_PORT_OFFSET)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli.support import service_url
from shared.settings import SERVICE_PORTS
from services.cli.settings import SystemSettings
from tests.harness.ports import free_port, free_port_between

ROOT = Path(__file__).resolve().parents[2]


def sbt(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SBT_")}
    environment.update(SBT_DATA_DIR=str(tmp_path / "var"), SBT_ENV="development", **env)
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env=environment, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    return lines[-1]


def test_an_unknown_role_is_a_usage_error_in_one_line(tmp_path):
    minted = sbt(tmp_path, "token", "--agency", "BKN", "--role", "nonsense")
    assert minted.returncode == 2
    assert minted.stdout == ""
    assert minted.stderr.strip().count("\n") == 0
    assert "unknown role nonsense" in minted.stderr and "observer" in minted.stderr


def test_an_import_whose_rows_are_all_refused_exits_1_naming_each_row(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("nip,name,agency_code,unit,position,province,employment_type\n"
                      "123,Satu,BKN,Biro Umum,Analis,JAWA TENGAH,PNS\n"
                      "19860201201112200X,Dua,BKN,Biro Umum,Analis,JAWA TENGAH,PNS\n")
    imported = sbt(tmp_path, "import", "roster", str(roster))
    assert imported.returncode == 1, imported.stderr
    assert "line 2: nip:" in imported.stderr and "line 3: nip:" in imported.stderr
    assert "Traceback" not in imported.stderr

    agencies = tmp_path / "agencies.csv"
    agencies.write_text("code,name,level,province,ppk_title,ppk_name\n,Tanpa Kode,central,,Kepala,\n")
    refused = sbt(tmp_path, "import", "agencies", str(agencies))
    assert refused.returncode == 1
    assert "line 2: code: is required" in refused.stderr

    wrong_kind = sbt(tmp_path, "import", "nonsense", str(agencies))
    assert wrong_kind.returncode == 2
    assert one_line(wrong_kind.stderr).startswith("error: KIND must be one of")


def test_a_history_import_is_refused_whole_naming_each_line(tmp_path):
    books = tmp_path / "buku.csv"
    books.write_text("nip,instansi,pemilihan,pelanggaran,tanggal_laporan,hasil\n"
                     "19860926 201505 1 001,PEMPROV-ATLANTIS,PILKADA-2020,ETIK-MEDSOS,2020-09-01,dalam_proses\n"
                     "19860926 201505 1 002,BKN,PILKADA-2020,ETIK-MEDSOS,01/09/2020,dalam_proses\n"
                     "19860926 201505 1 003,BKN,PILKADA-2020,ETIK-MEDSOS,2020-09-01,\n")
    refused = sbt(tmp_path, "--lang", "en", "import", "history", str(books))
    assert refused.returncode == 1, refused.stderr
    assert "line 3: report_date: '01/09/2020' is not a date in YYYY-MM-DD form" in refused.stderr
    assert "line 2: agency: unknown agency code PEMPROV-ATLANTIS" in refused.stderr
    # (rich wraps the long line: compared with the whitespace folded)
    assert "line 4: outcome: required without a recommendation_date (one of rejected | ditolak" in " ".join(
        refused.stderr.split())
    assert one_line(refused.stderr) == "nothing imported: fix the rows above and run again"

    headless = tmp_path / "tanpa-kolom.csv"
    headless.write_text("nip,instansi\n19860926 201505 1 001,BKN\n")
    missing = sbt(tmp_path, "--lang", "en", "import", "history", str(headless))
    assert missing.returncode == 1 and "missing column(s): election, violation, report_date" in one_line(missing.stderr)

    other = tmp_path / "buku.txt"
    other.write_text("nip\n")
    assert sbt(tmp_path, "import", "history", str(other)).returncode == 2
    assert sbt(tmp_path, "reconcile", str(books)).returncode == 2  # --agency is required


@pytest.mark.parametrize("command", [
    ["export", "out.jsonl"],
    ["witness", "--agency", "KASN", "--key", "kasn.pem", "--key-id", "kasn-1", "--state", "state.json"],
    ["ops", "dead-letters"],
])
def test_export_witness_and_ops_look_for_the_status_service_at_its_port_plus_the_offset(tmp_path, command):
    status_port = SERVICE_PORTS["status"]
    offset = free_port_between(status_port + 1000, status_port + 20000) - status_port  # nothing listens there
    arguments = [str(tmp_path / part) if part.endswith((".jsonl", ".pem", ".json")) else part for part in command]
    answered = sbt(tmp_path, *arguments, SBT_PORT_OFFSET=str(offset))
    assert answered.returncode == 1
    assert one_line(answered.stderr) == (f"cannot reach the status service at "
                                         f"http://127.0.0.1:{SERVICE_PORTS['status'] + offset}: connection refused")


def test_a_stream_command_without_a_nats_says_so_in_one_line(tmp_path):
    port = free_port()
    answered = sbt(tmp_path, "export", "--from-stream", str(tmp_path / "out.jsonl"), SBT_EMBEDDED_NATS_PORT=str(port))
    assert answered.returncode == 1
    assert one_line(answered.stderr).startswith(f"cannot reach NATS at nats://127.0.0.1:{port}")
    assert "connection refused" in answered.stderr


def test_service_urls_follow_the_offset_the_host_and_an_explicit_address(monkeypatch):
    settings = SystemSettings(port_offset=300, host="10.0.0.5")
    assert service_url("sanction", settings=settings) == f"http://10.0.0.5:{SERVICE_PORTS['sanction'] + 300}"
    assert service_url("status", "http://elsewhere:9/", settings=settings) == "http://elsewhere:9"
    monkeypatch.setenv("SBT_STATUS_URL", "http://from-env:1")
    assert service_url("status", settings=settings) == "http://from-env:1"
    # A service bound to every address is reached on the loopback one.
    assert service_url("intake", settings=SystemSettings(host="0.0.0.0")) == f"http://127.0.0.1:{SERVICE_PORTS['intake']}"


def test_a_setting_out_of_range_is_one_line_naming_the_variable(tmp_path):
    answered = sbt(tmp_path, "ops", "dead-letters", SBT_PORT_OFFSET="60000")
    assert answered.returncode == 2
    line = one_line(answered.stderr)
    assert line.startswith("error: SBT_PORT_OFFSET:") and "50000" in line
