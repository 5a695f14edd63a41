"""`make bench`: every benchmark on SQLite and, when it answers, on PostgreSQL; prints the table and writes
it to BENCHMARKS.md with the machine it ran on. Each figure stands next to its ceiling, measured in the
same run on the same machine."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def _postgres_answers() -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", 5432)) == 0


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
    return f"{os.cpu_count()} cores ({cpu}), {memory_kib / 1024 / 1024:.0f} GiB memory, Python {platform.python_version()}"


def _pass(database_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "SBT_TEST_DATABASE_URL"}
    if database_url:
        env["SBT_TEST_DATABASE_URL"] = database_url
    done = subprocess.run([sys.executable, "-m", "tests.bench.suite"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"the benchmark pass on {database_url or 'SQLite'} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _table(result: dict) -> str:
    lines = [f"### {result['backend']}", "", "| benchmark | figure | ceiling (same run) | goal | met |",
             "| --- | --- | --- | --- | --- |"]
    for row in result["rows"]:
        met = {True: "yes", False: "**no**", None: ""}[row["met"]]
        lines.append(f"| {row['name']} | {row['figure']} | {row['ceiling']} | {row['goal']} | {met} |")
    return "\n".join(lines)


def main() -> None:
    results = [_pass(None)]
    if _postgres_answers():
        results.append(_pass(os.environ.get("SBT_TEST_DATABASE_URL", POSTGRES)))
    extra = [json.loads(line) for line in os.environ.get("SBT_BENCH_EXTRA", "").splitlines() if line]
    body = "\n\n".join(_table(result) for result in [*results, *extra])
    document = (
        "# Benchmarks\n\n"
        f"Produced by `make bench` on {dt.date.today():%Y-%m-%d}, on {_machine()}. The load generator "
        "(wrk, or a small async client for writes) runs as its own process on loopback; each service is one "
        "uvicorn process; the ceiling is a bare ASGI app on the same server settings, measured in the same run.\n\n"
        f"{body}\n"
    )
    (ROOT / "BENCHMARKS.md").write_text(document)
    print("\n" + document)


if __name__ == "__main__":
    main()
