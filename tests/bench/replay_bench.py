"""The replay on its own, for profiling: a system with only the status service, a synthetic stream of
``--cases`` cases (two events each) applied live, then ``sbt replay`` into fresh tables, optionally under
cProfile. Prints one JSON line: events, the rebuild's rate, the whole command's seconds, whether the state
hashes matched.

    python -m tests.bench.replay_bench --cases 20000 [--processes 0,1] [--profile replay.prof]
    SBT_TEST_DATABASE_URL=postgresql+asyncpg://... python -m tests.bench.replay_bench ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import machine
from tests.harness.system import SbtSystem

ROOT = Path(__file__).resolve().parents[2]


async def _events_logged(system: SbtSystem) -> int:
    return int(await system.scalar("status", "SELECT count(*) FROM events") or 0)


def parse_replay(output: str) -> tuple[int, float]:
    """(events replayed, seconds rebuilding) from ``sbt replay``'s report."""
    found = re.search(r"replayed (\d+) events .* in ([\d.]+)s", output)
    return (int(found[1]), float(found[2])) if found else (0, 0.0)


async def measure(cases: int, profile: str | None, batch: int, processes: list[int | None]) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="sbt-replay-"))
    system = SbtSystem(folder, ["status"], extra_databases=tuple(
        "replay" if number == 0 else f"replay{number}" for number in range(len(processes))))
    await system.start()
    try:
        env = {**system.env, "SBT_DATABASE_URL": system.databases.template}
        subprocess.run([sys.executable, "-m", "tests.bench.synthetic_stream", "--url", system.nats.url,
                        "--cases", str(cases)], cwd=ROOT, env=env, check=True, capture_output=True)
        deadline = time.monotonic() + 3600
        while await _events_logged(system) < 2 * cases:
            if time.monotonic() > deadline:
                raise TimeoutError("the live status service did not apply the stream")
            await asyncio.sleep(0.5)
        system["status"].stop()  # the replay alone on the machine's cores
        runs = []
        for number, count in enumerate(processes):
            into = system.databases.url("replay" if number == 0 else f"replay{number}")
            command = [sys.executable, *(["-m", "cProfile", "-o", f"{profile}.{count}"] if profile else []), "-m",
                       "services.cli", "replay", "--into", into, "--batch", str(batch),
                       *(["--processes", str(count)] if count is not None else [])]
            done = machine.run_python(*command[1:], cwd=ROOT, env=env, check=False)
            whole = done.seconds
            events, seconds = parse_replay(done.stdout)
            cpu = re.search(r"; ([\d,]+) us CPU an event", done.stdout)
            runs.append({"processes": count, "events": events, "rebuild_seconds": seconds,
                         "folding_process_us_per_event": int(cpu[1].replace(",", "")) if cpu else None,
                         "report": next((line for line in done.stdout.splitlines() if line.startswith("replayed")), ""),
                         "rate": events / seconds if seconds else 0.0, "whole_seconds": whole,
                         "same": "OK: the replay reproduces" in done.stdout,
                         "command_cpu_us_per_event": round(done.cpu / events * 1e6) if events else None,
                         "peak_mib": round(done.peak_mib),
                         "output": done.stdout[-600:] + done.stderr[-600:] if done.returncode else ""})
        return {"runs": runs}
    finally:
        await system.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--profile", default=None, help="cProfile output, one file per run: PATH.<processes>")
    parser.add_argument("--processes", default="default",
                        help="comma-separated checking processes per run, one replay each (e.g. 0,1)")
    arguments = parser.parse_args()
    processes = [None if p == "default" else int(p) for p in arguments.processes.split(",")]
    print(json.dumps(asyncio.run(measure(arguments.cases, arguments.profile, arguments.batch, processes))))


if __name__ == "__main__":
    main()
