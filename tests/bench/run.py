"""`make bench`: every benchmark on SQLite and, when it answers, on PostgreSQL; prints the table and writes
it with the machine, the commit and the scale it ran at.

    python -m tests.bench.run [--scale 0.01] [--out FILE]

At full scale (1, the national roster) the table goes to BENCHMARKS.md; at any other scale to
var/bench/BENCHMARKS-scale-<scale>.md unless --out says otherwise, so a small check never replaces the
published figures. SBT_BENCH_SCALE (a number, or a JSON object of overrides) is the environment's way to
say the same."""

from __future__ import annotations

import argparse
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


def _commit() -> str:
    """The commit measured, and whether the work tree had changes beside it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + (" with uncommitted changes" if dirty else "")


def _pass(database_url: str | None, scale: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "SBT_TEST_DATABASE_URL"}
    env["SBT_BENCH_SCALE"] = scale
    if database_url:
        env["SBT_TEST_DATABASE_URL"] = database_url
    done = subprocess.run([sys.executable, "-m", "tests.bench.suite"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"the benchmark pass on {database_url or 'SQLite'} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _met(value: object) -> str:
    if isinstance(value, str):
        return f"*{value}*"
    return {True: "yes", False: "**no**", None: ""}[value]


def _table(result: dict) -> str:
    lines = [f"### {result['backend']}", "",
             "| benchmark | figure | ceiling (alternated, same run) | ratio | failures (non-2xx, errors, timeouts) "
             "| load avg | goal | met |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in result["rows"]:
        cells = [row["name"], row["figure"], row["ceiling"], row["ratio"], row["failures"], row["load"], row["goal"],
                 _met(row["met"])]
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |")
    for note in result.get("notes", []):
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)


def _scale_text(scale: dict) -> str:
    return (f"scale {scale['factor']:g} (roster {scale['roster']:,}, {scale['cases']:,} civil servants with a case, "
            f"{scale['blocked_share']:.0%} of them blocked, {scale['replay_events']:,} events replayed; "
            f"{scale['rounds']} rounds of {scale['round_seconds']} s per figure and ceiling)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default=os.environ.get("SBT_BENCH_SCALE", "1"),
                        help="1: the national roster and a million events; 0.01 for a check of a few minutes")
    parser.add_argument("--out", default=None)
    arguments = parser.parse_args()
    scale = arguments.scale
    try:
        full = float(scale) == 1
    except ValueError:
        full = False
    out = Path(arguments.out) if arguments.out else (
        ROOT / "BENCHMARKS.md" if full else ROOT / "var" / "bench" / f"BENCHMARKS-scale-{scale[:20]}.md")
    commit = _commit()
    results = [_pass(None, scale)]
    if _postgres_answers():
        results.append(_pass(os.environ.get("SBT_TEST_DATABASE_URL", POSTGRES), scale))
    extra = [json.loads(line) for line in os.environ.get("SBT_BENCH_EXTRA", "").splitlines() if line]
    body = "\n\n".join(_table(result) for result in [*results, *extra])
    document = (
        "# Benchmarks\n\n"
        f"Produced by `make bench` on {dt.date.today():%Y-%m-%d} from commit {commit}, at "
        f"{_scale_text(results[0]['scale'])}, on {_machine()}.\n\n"
        "How to read it: every figure is the median of its rounds, each round alternated with a round of its "
        "ceiling (a bare ASGI app answering as many bytes, on the same uvicorn settings; raw JetStream publishes "
        "for intake), with the spread of the rounds ((highest - lowest) / median). A goal the machine cannot decide "
        "is *inconclusive*: a ratio to the ceiling when the ceiling's own rounds spread more than 10%, a p99 bound "
        "when the ceiling's own p99 is above it too and the service's within twice the ceiling's; a goal in reports/s or NIPs/s is judged on the figure alone. The load generator (wrk, or a small async client for writes) is pinned "
        "to one core and the measured server to the other (taskset); both processes' CPU is recorded, and the "
        "ratio to the ceiling is also given per server CPU-second. The load average column is the machine's "
        "1-minute load before→after each round, ceiling then service, round by round. Reads are about NIPs drawn "
        "uniformly from the whole roster. PostgreSQL itself is not pinned (it serves other databases too): its "
        "CPU is not in the server's CPU-seconds.\n\n"
        f"{body}\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document)
    # Each pass's rows as measured, beside the table's other copies, for whoever wants to check a figure.
    raw = ROOT / "var" / "bench" / f"{out.stem}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps({"commit": commit, "passes": results}, indent=1, ensure_ascii=False))
    print("\n" + document)
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
