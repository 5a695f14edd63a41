"""``make faults``: kill -9 every process of a running system, one after another, under a steady load of
reports, and check that nothing accepted was lost or doubled and that the system caught up in time.

The system is the end-to-end tests' (tests/harness/system.py): every service its own process, a real
nats-server, the suite's database (PostgreSQL with SBT_TEST_DATABASE_URL). Each process is killed with
SIGKILL and started again half a second later, as `sbt run`'s supervisor does. At the end, every report
that got a 201 must be in intake and, exactly once, in the status service's log, the recommendation
worklist and notify's store of what it fans out; the ledger is exported and checked with `sbt verify`; nothing may be dead-lettered; and the
catch-up after the last kill (until everything accepted is in every projection) must be within the goal.

Not collected by pytest (no test_ files): run with ``python -m tests.faults.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import text

from shared.db import create_engine
from shared.events.intake import ReportReceived
from tests.e2e.reports import random_nip, report_body
from tests.harness.system import SbtSystem

SERVICES = ["intake", "recommendation", "sanction", "blocking", "status", "identity", "notify"]
# Every report must be in every projection within this long after the last kill.
CATCH_UP_GOAL = 10.0
RESTART_AFTER = 0.5  # as the supervisor of `sbt run` does


class Load:
    """Files reports at a steady rate; remembers the case of every report answered 201."""

    def __init__(self, system: SbtSystem, rate: float) -> None:
        self.system, self.rate = system, rate
        self.accepted: dict[str, str] = {}  # report id -> case id
        self.refused = Counter()  # what else came back (intake down, a timeout): not accepted, not counted
        self.running = True
        self._tasks: set[asyncio.Task] = set()

    async def run(self) -> None:
        token = self.system.token("BAWASLU", "reporter")
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            started, sent = time.monotonic(), 0
            while self.running:
                sent += 1
                task = asyncio.create_task(self._file(client))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                await asyncio.sleep(max(0.0, started + sent / self.rate - time.monotonic()))
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _file(self, client: httpx.AsyncClient) -> None:
        try:
            response = await client.post(f"{self.system['intake'].url}/v1/reports", json=report_body(random_nip()))
        except httpx.HTTPError as error:
            self.refused[type(error).__name__] += 1
            return
        if response.status_code == 201:
            answer = response.json()
            self.accepted[answer["report_id"]] = answer["case_id"]
        else:
            self.refused[str(response.status_code)] += 1


class Projections:
    """Reads what each service holds, straight from its database."""

    def __init__(self, system: SbtSystem) -> None:
        self.engines = {name: create_engine(system.databases.url(name))
                        for name in ("intake", "status", "recommendation", "notify")}

    async def rows(self, service: str, query: str) -> list:
        async with self.engines[service].connect() as connection:
            return list(await connection.execute(text(query)))

    async def reports_per_case(self) -> dict[str, Counter]:
        """Per projection, how many reports each case has."""
        intake = await self.rows("intake", "SELECT case_id, count(*) FROM reports GROUP BY case_id")
        status = await self.rows("status", "SELECT subject, count(*) FROM events WHERE event_type = "
                                           f"'{ReportReceived.event_type}' GROUP BY subject")
        recommendation = await self.rows("recommendation", "SELECT case_id, report_count FROM cases")
        # notify keeps every event it consumed, to fan out to subscribers.
        notify = await self.rows("notify", "SELECT subject, count(*) FROM events WHERE event_type = "
                                           f"'{ReportReceived.event_type}' GROUP BY subject")
        return {name: Counter(dict(rows)) for name, rows in
                (("intake", intake), ("status", status), ("recommendation", recommendation), ("notify", notify))}

    async def caught_up(self, cases: set[str]) -> bool:
        """Whether every one of ``cases`` has, in every projection, the reports intake holds for it."""
        counts = await self.reports_per_case()
        return all(counts["status"][case] == counts["recommendation"][case] == counts["notify"][case]
                   == counts["intake"][case] > 0 for case in cases)

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()


async def kill_and_restart(system: SbtSystem, target: str) -> None:
    if target == "nats":
        system.nats.kill()
        await asyncio.sleep(RESTART_AFTER)
        await asyncio.to_thread(system.nats.start)
        return
    system[target].kill()
    await asyncio.sleep(RESTART_AFTER)
    system[target].launch()
    await asyncio.to_thread(system[target].wait_healthy)


async def watch_catch_up(projections: Projections, cases: set[str], since: float, timeout: float) -> float | None:
    """Seconds from ``since`` until ``cases`` are in every projection; None past ``timeout``."""
    while time.monotonic() - since < timeout:
        try:
            if await projections.caught_up(cases):
                return time.monotonic() - since
        except Exception:  # noqa: BLE001 - a database busy with recovery: look again
            pass
        await asyncio.sleep(0.2)
    return None


def verify_export(system: SbtSystem, folder: Path) -> tuple[bool, str]:
    export = folder / "ledger.jsonl"
    env = {**system.env, "SBT_ENV": "development"}  # the commands mint their own token with the test key
    sbt = [sys.executable, "-m", "services.cli"]
    exported = subprocess.run([*sbt, "export", str(export), "--url", system["status"].url], env=env,
                              capture_output=True, text=True, timeout=120)
    if exported.returncode != 0:
        return False, exported.stdout + exported.stderr
    verified = subprocess.run([*sbt, "verify", str(export)], env=env, capture_output=True, text=True, timeout=120)
    return verified.returncode == 0, (verified.stdout + verified.stderr).strip()


async def main(rate: float, interval: float, seed: int | None) -> int:
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="sbt-faults-"))
    system = SbtSystem(folder, SERVICES, extra_env={
        # The load is one client filing far past the per-client write limit meant for people.
        "SBT_WRITE_RATE_PER_MINUTE": "1000000", "SBT_WRITE_BURST": "100000",
    })
    print(f"fault run: {len(SERVICES)} services and NATS, {rate:g} reports/s, a kill -9 every ~{interval:g} s",
          flush=True)
    await system.start()
    projections = Projections(system)
    load = Load(system, rate)
    loading = asyncio.create_task(load.run())
    watchers: list[tuple[str, asyncio.Task]] = []
    failures: list[str] = []
    try:
        await asyncio.sleep(3)
        # The status service last: its restart, and the redelivery of its batch, is the longest catch-up.
        targets = [*(s for s in SERVICES if s != "status"), "nats", "status"]
        for number, target in enumerate(targets, 1):
            cases = set(load.accepted.values())
            killed_at = time.monotonic()
            await kill_and_restart(system, target)
            print(f"  kill {number}: {target} (kill -9 at {len(load.accepted)} reports accepted, back after "
                  f"{time.monotonic() - killed_at:.1f} s)", flush=True)
            watchers.append((target, asyncio.create_task(watch_catch_up(projections, cases, killed_at, 60))))
            if number < len(targets):
                await asyncio.sleep(interval * rng.uniform(0.8, 1.2))
        last_kill = killed_at
        await asyncio.sleep(2)  # keep filing while the last one recovers
        load.running = False
        await loading
        after_last = await watch_catch_up(projections, set(load.accepted.values()), last_kill, 60)

        print(f"reports accepted: {len(load.accepted)}; not accepted: {dict(load.refused) or 0}")
        print(f"kills: {len(targets)}")
        for target, watcher in watchers:
            seconds = await watcher
            print(f"  catch-up after killing {target:<15}"
                  + (f"{seconds:.1f} s" if seconds is not None else "not within 60 s"))
            if seconds is None:
                failures.append(f"never caught up after killing {target}")
        print("catch-up after the last kill: " + (f"{after_last:.1f} s (goal {CATCH_UP_GOAL:g} s)"
                                                  if after_last is not None else "not within 60 s"))
        if after_last is None or after_last > CATCH_UP_GOAL:
            failures.append(f"catch-up after the last kill over the goal of {CATCH_UP_GOAL:g} s")

        counts = await projections.reports_per_case()
        intake_reports = {row[0] for row in await projections.rows("intake", "SELECT id FROM reports")}
        lost = set(load.accepted) - intake_reports
        if lost:
            failures.append(f"{len(lost)} accepted reports missing at intake, e.g. {sorted(lost)[:3]}")
        for name in ("status", "recommendation", "notify"):
            wrong = {case: (counts["intake"][case], counts[name][case]) for case in set(load.accepted.values())
                     if counts[name][case] != counts["intake"][case]}
            missing = sum(1 for held, seen in wrong.values() if seen < held)
            doubled = sum(1 for held, seen in wrong.values() if seen > held)
            print(f"{name}: {sum(counts[name].values())} reports in {len(counts[name])} cases; "
                  f"lost {missing}, doubled {doubled}")
            if wrong:
                failures.append(f"{name}: {missing} cases short of reports, {doubled} with reports doubled")
        dead = (await projections.rows("status", "SELECT count(*) FROM dead_letters"))[0][0]
        print(f"dead-lettered at the status service: {dead}")
        if dead:
            failures.append(f"{dead} events dead-lettered at the status service")
        ok, said = await asyncio.to_thread(verify_export, system, folder)
        print(f"sbt verify of the exported ledger: {'passed' if ok else 'FAILED'}")
        if not ok:
            failures.append(f"sbt verify failed:\n{said[-3000:]}")
    finally:
        load.running = False
        if not loading.done():
            await asyncio.gather(loading, return_exceptions=True)
        await projections.close()
        await system.stop()
    if failures:
        print("FAULTS FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("faults: nothing lost, nothing doubled, caught up in time")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=25.0, help="reports per second")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between kills (varied by 20 %%)")
    parser.add_argument("--seed", type=int, default=None)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.rate, arguments.interval, arguments.seed)))
