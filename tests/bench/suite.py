"""One benchmark pass on one database (SQLite, or PostgreSQL when SBT_TEST_DATABASE_URL is set), on a real
system: nats-server and every service as its own process. Prints its rows as JSON on the last line.

Built so that it cannot flatter:
- every service figure is measured in rounds alternated with its ceiling (at least three each), and given
  as the median with its spread; a figure whose ceiling itself spread more than 10% is inconclusive;
- the load generator runs on one core and the system on the other (taskset), and both one's CPU is
  recorded: ratios are also given per CPU-second of the server;
- the machine's load average is recorded before and after every round;
- reads are about NIPs drawn uniformly from the whole roster, a share of them with cases and some blocked;
- every answer that is not a success is counted and classified, in every row, ceilings included;
- propagation waits for every event (none dropped) and counts what never arrived;
- a mixed run measures the hot reads while intake files reports beside them;
- a peer (FastAPI + SQLAlchemy, one indexed SELECT a request) is measured the same way;
- every service's peak memory is in the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from shared.events.envelope import GENESIS_HASH
from tests.bench import machine
from tests.bench.wrk import WrkResult, run_wrk, write_nips
from tests.e2e.reports import report_body
from tests.harness.database import backend
from tests.harness.ports import free_port, port_open, wait_for
from tests.harness.system import SbtSystem

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["intake", "recommendation", "sanction", "blocking", "status"]
FULL_SCALE = {
    "roster": 4_700_000,  # the national roster
    "cases": 30_000,  # civil servants with a case, drawn from the roster
    "blocked_share": 0.1,  # of those, blocked by hand
    "publishes": 100_000,  # raw JetStream publishes per ceiling round of intake
    "paced": 500,  # reports whose propagation is measured
    "replay_events": 1_000_000,
    "round_seconds": 10,
    "rounds": 3,
    "mixed_rate": 100,  # reports/s filed beside the mixed run's reads
}
MIN_SCALE = {"roster": 5_000, "cases": 200, "publishes": 2_000, "paced": 100, "replay_events": 5_000}
INCONCLUSIVE_SPREAD = 0.10
MEMORY_GOAL_MIB = 400
# More than intake files a second on one core (it spends milliseconds a report): the NIPs set aside per wrk
# run of the scale-out row are never used up.
SCALE_OUT_RATE_BOUND = 500


def scaled(factor: float, overrides: dict | None = None) -> dict:
    """The full scale times ``factor`` (counts only; rounds, shares and rates stay), then ``overrides``."""
    scale = dict(FULL_SCALE)
    for key in ("roster", "cases", "publishes", "paced", "replay_events"):
        scale[key] = max(MIN_SCALE[key], int(FULL_SCALE[key] * factor))
    if factor < 1:
        scale["round_seconds"] = 3
    scale.update(overrides or {})
    scale["factor"] = factor
    return scale


# --- measuring in rounds ---------------------------------------------------------------------------------


@dataclass
class Round:
    rate: float  # per second: requests, reports, publishes
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    seconds: float = 0.0
    count: int = 0
    load_before: float = 0.0
    load_after: float = 0.0

    @property
    def per_cpu_second(self) -> float:
        good = self.count - sum(self.failures.values())
        return good / self.server_cpu if self.server_cpu > 0 else 0.0

    @classmethod
    def of_wrk(cls, result: WrkResult) -> Round:
        return cls(result.requests_per_second, result.p50_ms, result.p99_ms, result.failures, result.server_cpu,
                   result.wrk_cpu, result.seconds, result.requests, result.load_before, result.load_after)


@dataclass
class Series:
    rounds: list[Round]

    def _median(self, value: Callable[[Round], float]) -> float:
        return statistics.median(value(r) for r in self.rounds)

    @property
    def rate(self) -> float:
        return self._median(lambda r: r.rate)

    @property
    def spread(self) -> float:
        """(highest - lowest) / median of the rounds' rates."""
        rates = [r.rate for r in self.rounds]
        return (max(rates) - min(rates)) / self.rate if self.rate else 0.0

    @property
    def p50(self) -> float:
        return self._median(lambda r: r.p50_ms)

    @property
    def p99(self) -> float:
        return self._median(lambda r: r.p99_ms)

    @property
    def per_cpu_second(self) -> float:
        return self._median(lambda r: r.per_cpu_second)

    @property
    def failures(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for r in self.rounds:
            for kind, n in r.failures.items():
                total[kind] = total.get(kind, 0) + n
        return total

    @property
    def count(self) -> int:
        return sum(r.count for r in self.rounds)

    def cores(self) -> tuple[float, float]:
        """Median cores used by the server and by the client over a round."""
        return (self._median(lambda r: r.server_cpu / r.seconds if r.seconds else 0.0),
                self._median(lambda r: r.client_cpu / r.seconds if r.seconds else 0.0))


def alternate(rounds: int, ceiling: Callable[[], Round], service: Callable[[], Round]) -> tuple[Series, Series]:
    """``rounds`` rounds of the ceiling and of the service, one after the other: a drift of the machine
    meets both alike."""
    ceilings, services = [], []
    for _ in range(rounds):
        ceilings.append(ceiling())
        services.append(service())
    return Series(ceilings), Series(services)


def _failures_text(failures: dict[str, int], count: int) -> str:
    if not failures:
        return f"none of {count:,}"
    return ", ".join(f"{n:,} {kind}" for kind, n in sorted(failures.items())) + f" of {count:,}"


def _series_text(series: Series, unit: str, *, latency: bool = True, per_request: float = 1.0) -> str:
    """``per_request``: what one request counts for (1,000 NIPs in a bulk check)."""
    server, client = series.cores()
    text = f"{series.rate * per_request:,.0f} {unit} (median of {len(series.rounds)}, spread {series.spread:.0%})"
    if latency:
        text += f", p50 {series.p50:.1f} ms, p99 {series.p99:.1f} ms"
    return text + f"; {series.per_cpu_second * per_request:,.0f} per server CPU-s (server {server:.2f} cores, load generator " \
                  f"{client:.2f})"


class Rows:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.notes: list[str] = []
        self.idle: list[float] = []  # cores the whole system used while idle, before each row

    def add(self, name: str, figure: str, *, ceiling: str = "", ratio: str = "", failures: str = "",
            load: str = "", goal: str = "", met: bool | str | None = None, **extra) -> None:
        row = {"name": name, "figure": figure, "ceiling": ceiling, "ratio": ratio, "failures": failures,
               "load": load, "goal": goal, "met": met, **extra}
        self.rows.append(row)
        print(f"  {name}: {figure} | ceiling {ceiling} | ratio {ratio} | failures {failures} | met {met}",
              file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  NOTE: {text}", file=sys.stderr, flush=True)

    def compared(self, name: str, ceiling: Series, service: Series, *, unit: str, goal: str,
                 min_ratio: float | None = None, max_p99_ms: float | None = None, min_rate: float | None = None,
                 latency: bool = True, scale_by: float = 1.0,
                 ceiling_name: str = "bare ASGI, same answer size", ceiling_unit: str | None = None,
                 ceiling_latency: bool = True) -> None:
        """A row of a service figure against its alternated ceiling, judged on the goals given: ``min_ratio``
        (to the ceiling's rate), ``max_p99_ms``, ``min_rate`` (in ``unit``, after ``scale_by``); no goal, no
        verdict. A part the machine cannot decide is inconclusive: a ratio when the ceiling's own rounds spread
        more than 10%, a p99 bound when the ceiling's own p99 is above it too (and the service's is within
        twice the ceiling's). Any failure fails the row."""
        ratio = service.rate / ceiling.rate if ceiling.rate else 0.0
        per_cpu = service.per_cpu_second / ceiling.per_cpu_second if ceiling.per_cpu_second else 0.0
        verdicts: list[bool | str] = []
        if min_ratio is not None:
            verdicts.append(f"inconclusive (ceiling spread {ceiling.spread:.0%})"
                            if ceiling.spread > INCONCLUSIVE_SPREAD else ratio >= min_ratio)
        if max_p99_ms is not None:
            # A tail the machine adds to everything cannot be blamed on the service, unless the service's
            # tail is well beyond it (more than twice the ceiling's).
            verdicts.append(True if service.p99 < max_p99_ms else
                            f"inconclusive (the ceiling's own p99 is {ceiling.p99:.0f} ms)"
                            if max_p99_ms <= ceiling.p99 and service.p99 <= 2 * ceiling.p99 else False)
        if min_rate is not None:
            verdicts.append(service.rate * scale_by >= min_rate)
        met: bool | str | None = None
        if verdicts:
            failed = bool(service.failures) or bool(ceiling.failures) or False in verdicts
            undecided = [v for v in verdicts if isinstance(v, str)]
            met = False if failed else "; ".join(undecided) if undecided else True
        self.add(name, _series_text(service, unit, latency=latency, per_request=scale_by),
                 ceiling=f"{ceiling_name}: " + _series_text(ceiling, ceiling_unit or unit, per_request=scale_by,
                                                           latency=latency and ceiling_latency),
                 ratio=f"{ratio:.2g} ({per_cpu:.2g} per CPU-s)",
                 failures=f"service: {_failures_text(service.failures, service.count)}; ceiling: "
                          f"{_failures_text(ceiling.failures, ceiling.count)}",
                 load=" ".join(f"{c.load_before:.1f}→{c.load_after:.1f}, {r.load_before:.1f}→{r.load_after:.1f};"
                               for c, r in zip(ceiling.rounds, service.rounds, strict=True)).rstrip(";"),
                 goal=goal, met=met,
                 ratio_value=round(ratio, 3), ceiling_spread=round(ceiling.spread, 3))


# --- the system's processes ------------------------------------------------------------------------------


@dataclass
class Cores:
    """The load generator's core and the server's; None each when the machine has one core only."""

    load: int | None
    server: int | None

    @classmethod
    def of_machine(cls) -> Cores:
        available = sorted(os.sched_getaffinity(0))
        return cls(available[0], available[1]) if len(available) >= 2 else cls(None, None)


def _pids(system: SbtSystem) -> dict[str, int]:
    found = {name: s.process.pid for name, s in system.services.items() if s.process is not None}
    if getattr(system.nats, "process", None) is not None:
        found["nats-server"] = system.nats.process.pid
    return found


async def _quiet(system: SbtSystem, rows: Rows, *, below: float = 0.25, timeout: float = 300) -> bool:
    """Until the system's processes use less than ``below`` of a core together over two seconds: what they
    were still doing (a backlog takes a whole core) is done. An idle system is not at zero: its consumers'
    long polls, the index and registry polls and the relays' sweeps cost it about a tenth of a core. Never
    gives up silently: a system still busy after ``timeout`` is a note."""
    pids = list(_pids(system).values())
    deadline = time.monotonic() + timeout
    used = 0.0
    while time.monotonic() < deadline:
        before = sum(machine.cpu_seconds(pid) for pid in pids)
        await asyncio.sleep(2)
        used = (sum(machine.cpu_seconds(pid) for pid in pids) - before) / 2
        if used < below:
            rows.idle.append(used)
            return True
    rows.note(f"the system was still busy after {timeout:.0f} s ({used:.2f} cores); measured anyway")
    return False


@contextlib.contextmanager
def _server(command: list[str], port: int, cores: Cores, name: str) -> Iterator[subprocess.Popen]:
    """A bench server (ceiling or peer) on the server's core, for the duration of a row."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([sys.executable, *command], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_for(lambda: process.poll() is None and port_open(port), 30, name)
            except Exception:
                log.seek(0)
                raise RuntimeError(f"{name} did not start:\n{log.read().decode(errors='replace')[-2000:]}") from None
            machine.pin(process.pid, cores.server)
            yield process
        finally:
            process.terminate()
            process.wait()


def _load_round(*args: str, cores: Cores, server_pids: list[int], env: dict | None = None) -> tuple[dict, Round]:
    """One round of a Python load generator (tests/bench/load.py) on the load core."""
    load_before = machine.load_average()
    server_before = sum(machine.cpu_seconds(pid) for pid in server_pids)
    finished = machine.run_python("-m", "tests.bench.load", *args, cwd=ROOT, env=env, cpu=cores.load)
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    server_cpu = sum(machine.cpu_seconds(pid) for pid in server_pids) - server_before
    failures = result.get("failures") or {}
    # Its CPU over its measured part only, in proportion (what it spent starting up is left out).
    client_cpu = finished.cpu * result["seconds"] / finished.seconds
    return result, Round(result["per_second"], result.get("p50_ms", 0.0), result.get("p99_ms", 0.0), failures,
                         server_cpu, client_cpu, result["seconds"], result["count"], load_before,
                         machine.load_average())


async def _events_logged(system: SbtSystem) -> int:
    return int(await system.scalar("status", "SELECT count(*) FROM events") or 0)


async def _events_published(system: SbtSystem) -> int:
    """Every event the other services have staged so far (the status service logs each one)."""
    total = 0
    for name in SERVICES:
        if name != "status":
            total += int(await system.scalar(name, "SELECT count(*) FROM outbox") or 0)
    return total


async def _wait_for(count, expected: int, timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await count() >= expected:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"only {await count()} of {expected} events arrived")


# --- the pass --------------------------------------------------------------------------------------------


def _roster_nips(roster: Path, out: Path) -> int:
    """The roster's NIPs as a wrk NIP file; returns how many."""
    count = 0
    with roster.open(newline="") as stream, out.open("w") as nips:
        for row in csv.DictReader(stream):
            nips.write(row["nip"] + "\n")
            count += 1
    return count


def _sample_nips(nips_file: Path, count: int, total: int, seed: int) -> list[str]:
    data = nips_file.read_bytes()
    picked = random.Random(seed).sample(range(total), min(count, total))
    return [data[i * 19:i * 19 + 18].decode() for i in picked]


async def run(scale: dict) -> tuple[list[dict], list[str]]:
    rows = Rows()
    cores = Cores.of_machine()
    if cores.server is None:
        rows.note("one core only: the load generator and the server share it (nothing pinned)")
    folder = Path(tempfile.mkdtemp(prefix="sbt-bench-"))
    # One reporter token files every report of the surge: the per-client write limit is lifted, so that what is
    # measured is the filing path, not the limit (a deployment sizes the limit for its busiest client).
    system = SbtSystem(folder, SERVICES, extra_databases=("replay", "peer"),
                       extra_env={"SBT_WRITE_RATE_PER_MINUTE": "100000000", "SBT_WRITE_BURST": "1000000"})
    await system.start()
    peaks: dict[str, float] = {}
    try:
        for pid in _pids(system).values():
            machine.pin(pid, cores.server)
        env = {**system.env, "SBT_DATABASE_URL": system.databases.template}
        reporter = system.token("BAWASLU", "reporter")
        reader = system.token("BKN", "blocker", "observer")
        rounds, seconds = scale["rounds"], scale["round_seconds"]

        # The roster, imported into intake (streamed, bounded memory), on the server's core.
        roster = folder / "roster.csv"
        machine.run_python("-m", "services.cli", "seed", "roster", "--rows", str(scale["roster"]), "--out",
                           str(roster), env=env, cwd=ROOT)
        imported = machine.run_python("-m", "services.cli", "import", "roster", str(roster), env=env, cwd=ROOT,
                                      cpu=cores.server)
        peaks["roster import"] = imported.peak_mib
        # The goal is the national roster, 4.7 million rows, on PostgreSQL in under 2 minutes with bounded
        # memory; on SQLite only the memory bound is a goal.
        in_time = imported.seconds * 4_700_000 / scale["roster"] < 120
        rows.add(f"roster import, {scale['roster']:,} rows",
                 f"{scale['roster'] / imported.seconds:,.0f} rows/s, {imported.seconds:,.0f} s, peak "
                 f"{imported.peak_mib:,.0f} MiB, {imported.cpu / imported.seconds:.2f} cores",
                 goal="4.7 million rows < 2 min, bounded memory" if backend() == "postgresql" else
                 "bounded memory (the 2-minute goal is PostgreSQL's)",
                 met=imported.peak_mib < MEMORY_GOAL_MIB and (in_time or backend() != "postgresql")
                 if scale["roster"] >= 1_000_000 or backend() != "postgresql"
                 else "not judged below a million rows (start-up dominates)")
        roster_file = folder / "roster-nips.txt"
        total = _roster_nips(roster, roster_file)
        roster.unlink()
        # The civil servants who get a case (and a few blocked), drawn from the whole roster; the paced and
        # the mixed runs' reports come after them in the same list.
        window = 2 * rounds * (seconds + 2) + 10  # seconds of filing beside each mixed row
        wanted = scale["cases"] * 2 + scale["paced"] + 2 * scale["mixed_rate"] * window
        # Then room for the intake scale-out's filings (PostgreSQL): a fresh stretch of NIPs per wrk run.
        scale_out_from, scale_out_run = wanted, SCALE_OUT_RATE_BOUND * (seconds + 2)
        wanted += 3 * rounds * scale_out_run
        case_file = write_nips(folder / "case-nips.txt", _sample_nips(roster_file, wanted, total, seed=5))

        # Intake: reports/s with the outbox, alternated with raw JetStream publishes on the same machine.
        pids = _pids(system)
        filed = 0

        def publish_round() -> Round:
            return _load_round("publish", "--url", system.nats.url, "--count", str(scale["publishes"]),
                               cores=cores, server_pids=[pids["nats-server"]])[1]

        def intake_round() -> Round:
            nonlocal filed
            # wrk posts the reports (a Python client would spend more CPU per request than intake does), each
            # about another civil servant of the roster, 32 connections.
            result = run_wrk(system["intake"].url, path="/v1/reports", token=reporter, nips_file=case_file,
                             seconds=seconds, method="POST", body=orjson.dumps(report_body("{nip}")),
                             sequential=True, offset=filed, cpu=cores.load, server_pids=list(pids.values()))
            filed += result.requests
            return Round.of_wrk(result)

        spent: dict[str, float] = dict.fromkeys(pids, 0.0)

        def intake_profiled() -> Round:
            before = {name: machine.cpu_seconds(pid) for name, pid in pids.items()}
            measured = intake_round()
            for name, pid in pids.items():
                spent[name] += machine.cpu_seconds(pid) - before[name]
            return measured

        ceiling, service = alternate(rounds, publish_round, intake_profiled)
        rows.compared("intake: reports accepted (with outbox); server = the whole system", ceiling, service,
                      unit="reports/s", goal="≥ 1,000 reports/s", ceiling_name="raw JetStream publishes with acks",
                      ceiling_unit="publishes/s", ceiling_latency=False,
                      min_rate=1000)
        accepted = max(1, service.count - sum(service.failures.values()))
        # The profile of the miss: what each process spends per report while intake's rounds run (the
        # consumers downstream of intake work on the same core, on the reports as they arrive).
        profile = "CPU per accepted report: " + ", ".join(
            f"{name} {seconds * 1000 / accepted:.2f} ms" for name, seconds in
            sorted(spent.items(), key=lambda item: -item[1]))
        rows.rows[-1]["failures"] += "; " + profile
        print(f"  {profile}", file=sys.stderr, flush=True)

        if backend() == "postgresql":
            # The scale-out the profile calls for: intake replicas on one PostgreSQL database.
            _intake_scale_out(system, rows, cores, pids, reporter=reporter, case_file=case_file,
                              first_nip=scale_out_from, nips_per_run=scale_out_run, rounds=rounds, seconds=seconds,
                              chain_ms=sum(spent.values()) * 1000 / accepted)

        # Up to the configured number of civil servants with a case, then a share of them blocked by hand.
        if filed < scale["cases"]:
            _load_round("reports", "--url", system["intake"].url, "--token", reporter, "--count",
                        str(scale["cases"] - filed), "--concurrency", "16", "--nips-file", str(case_file),
                        "--offset", str(filed), cores=cores, server_pids=[])
            filed = scale["cases"]
        listed = case_file.stat().st_size // 19
        # The first ``filed`` of the list (wrk and the filing client go round it when they reach its end).
        with_cases = _sample_nips(case_file, min(filed, listed), listed if filed >= listed else filed, seed=0)
        await _wait_for(lambda: _events_logged(system), await _events_published(system), 1200)
        blocked = with_cases[: max(1, int(len(with_cases) * scale["blocked_share"]))]
        await _block_some(system, blocked, system.token("BKN", "blocker"))
        await _wait_for(lambda: _events_logged(system), await _events_published(system), 600)
        await _quiet(system, rows)
        mix = (f"{total:,} roster NIPs drawn uniformly, {filed:,} ({filed / total:.1%}) with a case, "
               f"{len(blocked):,} blocked")

        # The hot reads, each alternated with a bare ASGI app answering as many bytes.
        async def sizes(service: str, path: str, method: str = "GET", body: bytes | None = None) -> int:
            lengths = []
            async with httpx.AsyncClient(base_url=system[service].url, timeout=30,
                                         headers={"Authorization": f"Bearer {reader}"}) as client:
                for nip in [*with_cases[:10], *_sample_nips(roster_file, 30, total, seed=9)]:
                    response = await client.request(method, path.replace("{nip}", nip), content=body,
                                                    headers={"Content-Type": "application/json"})
                    response.raise_for_status()
                    lengths.append(len(response.content))
            return int(statistics.median(lengths))

        def reads(service_url: str, path: str, server_pid: int, port: int, *, method: str = "GET",
                  bulk: int = 0, alone: bool = True) -> tuple[Series, Series]:
            """``alone``: the rest of the system moves to the load generator's core for the rows, so that the
            measured server (and its ceiling) has its core to itself; the mixed rows keep the whole system on
            the server's core, where the filing beside the reads competes with them as it would."""
            def one(url: str, pid: int) -> Callable[[], Round]:
                return lambda: Round.of_wrk(run_wrk(url, path=path, token=reader, nips_file=roster_file,
                                                    seconds=seconds, method=method, bulk=bulk, cpu=cores.load,
                                                    server_pids=[pid]))
            others = [pid for pid in _pids(system).values() if pid != server_pid] if alone else []
            for pid in others:
                machine.pin(pid, cores.load)
            try:
                with _server(["-m", "tests.bench.ceiling_app", str(port), str(get_size), str(post_size)], port,
                             cores, "ceiling app") as bare:
                    return alternate(rounds, one(f"http://127.0.0.1:{port}", bare.pid), one(service_url, server_pid))
            finally:
                for pid in others:
                    machine.pin(pid, cores.server)

        pids = _pids(system)
        one_nip_goal = "≥ ½ ceiling (median), p99 < 20 ms"
        hot = [("is this NIP blocked? GET /v1/personnel/{nip}/block", "blocking", "/v1/personnel/{nip}/block"),
               ("status read GET /v1/asn/{nip}/status", "status", "/v1/asn/{nip}/status")]
        for name, service_name, path in hot:
            await _quiet(system, rows)
            get_size = post_size = await sizes(service_name, path)
            ceiling, service = reads(system[service_name].url, path, pids[service_name], free_port())
            rows.compared(f"{name} ({mix})", ceiling, service, unit="req/s", goal=one_nip_goal,
                          min_ratio=0.5, max_p99_ms=20)

        await _quiet(system, rows)
        sample = orjson.dumps({"nips": _sample_nips(roster_file, 1000, total, seed=3)})
        get_size = post_size = await sizes("blocking", "/v1/personnel/blocks/check", "POST", sample)
        ceiling, service = reads(system["blocking"].url, "/v1/personnel/blocks/check", pids["blocking"],
                                 free_port(), method="POST", bulk=1000)
        rows.compared("bulk check, 1,000 NIPs a request (64 lists drawn from the roster)", ceiling, service,
                      unit="NIPs/s", goal="≥ 100,000 NIPs/s", scale_by=1000, latency=True,
                      min_rate=100_000)

        # The peer, on this pass's database, with the same roster and the same blocked civil servants.
        peer_url = system.databases.url("peer")
        blocked_file = folder / "blocked.txt"
        blocked_file.write_text("\n".join(blocked) + "\n")
        machine.run_python("-m", "tests.bench.peer_app", "seed", peer_url, str(roster_file), str(blocked_file),
                           cwd=ROOT)
        peer_port = free_port()
        with _server(["-m", "tests.bench.peer_app", "serve", peer_url, str(peer_port)], peer_port, cores,
                     "peer app") as peer:
            get_size = post_size = 60  # about its answer's size
            ceiling, service = reads(f"http://127.0.0.1:{peer_port}", "/v1/personnel/{nip}/block", peer.pid,
                                     free_port())
            peaks["peer (FastAPI + SQLAlchemy)"] = machine.peak_rss_mib(peer.pid) or 0.0
        rows.compared(f"peer: the typical FastAPI + SQLAlchemy async block query, one indexed SELECT a request, "
                      f"{total:,} rows ({backend()})", ceiling, service, unit="req/s", goal="for comparison",
                      )
        sbt_block = next(r for r in rows.rows if r["name"].startswith("is this NIP blocked?"))
        rows.note(f"SBT's block query against the peer's, per ratio to the same ceiling: "
                  f"{sbt_block['ratio_value'] / max(rows.rows[-1]['ratio_value'], 1e-9):.1f}x")

        # The mixed run: the hot reads again while intake files reports beside them, ceilings included.
        await _quiet(system, rows)
        offset = scale["cases"] * 2
        for name, service_name, path in hot:
            get_size = post_size = await sizes(service_name, path)
            filer = subprocess.Popen(
                machine_pinned([sys.executable, "-m", "tests.bench.load", "reports", "--url", system["intake"].url,
                                "--token", reporter, "--rate", str(scale["mixed_rate"]), "--seconds", str(window),
                                "--concurrency", "8", "--nips-file", str(case_file), "--offset", str(offset)],
                               cores.load), cwd=ROOT, stdout=subprocess.PIPE, text=True)
            offset += int(scale["mixed_rate"] * window)
            try:
                await asyncio.sleep(2)  # filing at its pace before the first round
                ceiling, service = reads(system[service_name].url, path, pids[service_name], free_port(),
                                         alone=False)
            finally:
                out, _ = filer.communicate(timeout=window + 120)
            filing = json.loads(out.strip().splitlines()[-1])
            rows.compared(f"mixed: {name} while intake files {scale['mixed_rate']} reports/s", ceiling, service,
                          unit="req/s", goal=one_nip_goal, min_ratio=0.5, max_p99_ms=20)
            rows.rows[-1]["failures"] += (f"; the filing beside it: {filing['per_second']:,.0f} reports/s, "
                                          f"{_failures_text(filing['failures'], filing['count'])}")

        # Propagation: report accepted -> applied by the status service, at a steady 50 reports/s, every event.
        await _quiet(system, rows)
        outbox_before = int(await system.scalar("intake", "SELECT coalesce(max(id), 0) FROM outbox") or 0)
        paced, _ = _load_round("reports", "--url", system["intake"].url, "--token", reporter, "--count",
                               str(scale["paced"]), "--concurrency", "8", "--rate", "50", "--nips-file",
                               str(case_file), "--offset", str(offset), cores=cores, server_pids=[])
        delays, missing = await _propagation(system, outbox_before, timeout=60)
        paced_failures = sum(paced["failures"].values())
        if delays:
            p50, p99 = delays[len(delays) // 2], delays[max(0, int(len(delays) * 0.99) - 1)]
            figure = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(delays):,} events"
        else:
            p50 = p99 = float("inf")
            figure = "no event arrived"
        rows.add("propagation: report -> status, every event of the paced reports", figure,
                 failures=f"{missing:,} events never applied within 60 s; paced client: "
                          f"{_failures_text(paced['failures'], paced['count'])}",
                 goal="p99 < 100 ms, none lost", met=p99 < 100 and missing == 0 and paced_failures == 0)

        # Peak memory of every service so far, before the replay part stops all but the status service.
        for name, pid in _pids(system).items():
            peaks[name] = machine.peak_rss_mib(pid) or 0.0
        for name in SERVICES:
            if name != "status":
                system[name].stop()

        # Replay at scale: the stream grows to its target size with intake's events published straight
        # into JetStream (tests/bench/synthetic_stream.py); the live status service applies them all (its
        # sustained apply rate is a figure of its own, timed from the first publish), then the replay
        # rebuilds the projection from it.
        before = await _events_logged(system)
        cases = max(0, (scale["replay_events"] - before) // 2)
        if cases:
            # Continuing intake's own chain from its head, as the next events intake published would.
            head_seq = int(await system.scalar("intake", "SELECT producerseq FROM producer_head") or 0)
            head_hash = await system.scalar("intake", "SELECT hash FROM producer_head") or GENESIS_HASH
            status_pid = _pids(system)["status"]
            cpu_before = machine.cpu_seconds(status_pid)
            started = time.perf_counter()
            machine.run_python("-m", "tests.bench.synthetic_stream", "--url", system.nats.url, "--cases",
                               str(cases), "--after-seq", str(head_seq), "--after-hash", head_hash, env=env,
                               cwd=ROOT, cpu=cores.load)
            await _wait_for(lambda: _events_logged(system), before + 2 * cases, 7200)
            applied_seconds = time.perf_counter() - started
            status_cpu = machine.cpu_seconds(status_pid) - cpu_before
            rows.add(f"status service applying {2 * cases:,} events (live consumer, ledger included; timed from "
                     "the first publish)", f"{2 * cases / applied_seconds:,.0f} events/s, "
                     f"{2 * cases / status_cpu if status_cpu else 0:,.0f} per CPU-s of the status service")
            peaks["status"] = machine.peak_rss_mib(status_pid) or peaks.get("status", 0.0)
            peaks["nats-server"] = machine.peak_rss_mib(_pids(system)["nats-server"]) or 0.0

        # Replay: rebuild the status projection (and its ledger) from the stream into fresh tables, on the
        # same kind of database as the live one.
        events = await _events_logged(system)
        replayed = machine.run_python("-m", "services.cli", "replay", "--into", system.databases.url("replay"),
                                      "--batch", "1000", env=env, cwd=ROOT, check=False)
        peaks["sbt replay"] = replayed.peak_mib
        same = "OK: the replay reproduces" in replayed.stdout
        # The rebuild's own rate, as `sbt replay` reports it; the whole command also hashes every projection
        # table of the live and the rebuilt database to compare them, and that time is shown beside it.
        rebuilt = re.search(r"replayed (\d+) events .* in ([\d.]+)s", replayed.stdout)
        rate = int(rebuilt[1]) / float(rebuilt[2]) if rebuilt and float(rebuilt[2]) else 0.0
        folding = re.search(r"([\d,]+) us CPU an event in the folding process \(([\d,]+) in its event loop\)",
                            replayed.stdout)
        profile = (f"; the profile of the miss: {folding[1]} us CPU an event in the process that folds "
                   f"({folding[2]} in its event loop, the rest in the database driver's thread), beside the "
                   "processes checking hashes and signatures" if folding else "")
        rows.add(f"replay of the status projection, {events:,} events",
                 f"{rate:,.0f} events/s rebuilding; whole command {replayed.seconds:,.0f} s "
                 f"({events / replayed.seconds:,.0f} events/s) with both databases hashed, "
                 f"{replayed.cpu / replayed.seconds:.2f} cores" + ("" if same else " (state hash DIFFERENT)")
                 + profile,
                 failures="" if replayed.returncode == 0 else f"exit {replayed.returncode}: "
                          f"{(replayed.stdout + replayed.stderr).strip().splitlines()[-1:]}",
                 goal="≥ 20,000 events/s, same state hash", met=rate >= 20_000 and same)

        highest = max(peaks.values())
        rows.add("peak memory (RSS) of every process", ", ".join(f"{name} {mib:,.0f} MiB"
                                                                for name, mib in peaks.items()),
                 goal=f"none above {MEMORY_GOAL_MIB} MiB", met=highest <= MEMORY_GOAL_MIB)
        if rows.idle:
            rows.note(f"idle between rows, the whole system (five services and NATS, on the server's core) used "
                      f"{min(rows.idle):.2f}-{max(rows.idle):.2f} of a core")
    finally:
        await system.stop()
        # The roster, its NIP files and the databases take gigabytes at full scale.
        shutil.rmtree(folder, ignore_errors=True)
    return rows.rows, rows.notes


def _intake_scale_out(system: SbtSystem, rows: Rows, cores: Cores, pids: dict[str, int], *, reporter: str,
                      case_file: Path, first_nip: int, nips_per_run: int, rounds: int, seconds: float,
                      chain_ms: float) -> None:
    """Two intake replicas (one database, one relay lease between them) against one, alternated, each filed
    by a wrk of its own, measured per CPU-second of intake: what 1,000 reports/s takes in cores, where one
    core cannot give it. Everything stays on the server's core, so the rate cannot double here; what is
    measured is whether a second replica costs per report what the first does (a shared lock or a contended
    row would show there). Each wrk files NIPs of ``case_file`` of its own, ``nips_per_run`` from
    ``first_nip`` on (past the ones the other rows use)."""
    from concurrent.futures import ThreadPoolExecutor

    replica = system.add_replica("intake")
    assert replica.process is not None
    machine.pin(replica.process.pid, cores.server)
    intake_pids = [pids["intake"], replica.process.pid]
    body = orjson.dumps(report_body("{nip}"))

    next_nip = first_nip

    def filing(urls: list[str]) -> Round:
        nonlocal next_nip
        cpu_before = [machine.cpu_seconds(pid) for pid in intake_pids[: len(urls)]]
        load_before = machine.load_average()
        offsets = [next_nip + n * nips_per_run for n in range(len(urls))]
        next_nip += len(urls) * nips_per_run
        with ThreadPoolExecutor(len(urls)) as pool:
            results = list(pool.map(lambda job: run_wrk(
                job[0], path="/v1/reports", token=reporter, nips_file=case_file, seconds=seconds, method="POST",
                body=body, sequential=True, offset=job[1], connections=32 // len(urls), cpu=cores.load),
                zip(urls, offsets, strict=True)))
        intake_cpu = sum(machine.cpu_seconds(pid) - before
                         for pid, before in zip(intake_pids, cpu_before, strict=False))
        failures: dict[str, int] = {}
        for result in results:
            for kind, n in result.failures.items():
                failures[kind] = failures.get(kind, 0) + n
        return Round(sum(r.requests_per_second for r in results), max(r.p50_ms for r in results),
                     max(r.p99_ms for r in results), failures, intake_cpu, sum(r.wrk_cpu for r in results),
                     max(r.seconds for r in results), sum(r.requests for r in results), load_before,
                     machine.load_average())

    try:
        one, two = alternate(rounds, lambda: filing([system["intake"].url]),
                             lambda: filing([system["intake"].url, replica.url]))
    finally:
        replica.stop()

    def text(series: Series) -> str:
        return (f"{series.rate:,.0f} reports/s (median of {len(series.rounds)}, spread {series.spread:.0%}), "
                f"p99 {series.p99:.1f} ms; {series.per_cpu_second:,.0f} per CPU-s of intake "
                f"({series.cores()[0]:.2f} cores of intake)")

    per_cpu = two.per_cpu_second
    rows.add("intake scale-out on PostgreSQL: two intake replicas, the rest of the system beside them, all on "
             "the server's core", text(two), ceiling="one intake replica: " + text(one),
             ratio=f"{per_cpu / one.per_cpu_second if one.per_cpu_second else 0:.2g} per CPU-s of intake",
             failures=f"two: {_failures_text(two.failures, two.count)}; one: {_failures_text(one.failures, one.count)}",
             goal="≥ 1,000 reports/s: at these costs, "
                  f"{1000 / per_cpu if per_cpu else 0:,.1f} cores of intake replicas and "
                  f"{chain_ms:,.1f} cores for the whole chain (CPU per report of every process, above)",
             met="for the scale-out")


def machine_pinned(command: list[str], cpu: int | None) -> list[str]:
    from tests.bench.wrk import pinned

    return pinned(command, cpu)


async def _block_some(system: SbtSystem, nips: list[str], token: str) -> None:
    async with httpx.AsyncClient(base_url=system["blocking"].url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=30) as client:
        semaphore = asyncio.Semaphore(16)

        async def block(nip: str) -> None:
            async with semaphore:
                response = await client.post(f"/v1/personnel/{nip}/block", json={"reason": "Uji beban: blokir manual."})
                response.raise_for_status()

        await asyncio.gather(*(block(nip) for nip in nips))


async def _propagation(system: SbtSystem, outbox_after: int, *, timeout: float) -> tuple[list[float], int]:
    """From intake's outbox (staged, in the report's transaction) to the status inbox (applied), for every
    event intake staged after outbox row ``outbox_after``: the delays in ms, sorted, and how many events
    were never applied within ``timeout``."""
    from sqlalchemy import text

    from shared.db import create_engine

    async def fetch(service: str, query: str, **params) -> dict[str, object]:
        engine = create_engine(system.databases.url(service))
        try:
            async with engine.connect() as connection:
                return {row[0]: row[1] for row in (await connection.execute(text(query), params)).all()}
        finally:
            await engine.dispose()

    staged = await fetch("intake", "SELECT event_id, created_at FROM outbox WHERE id > :after", after=outbox_after)
    deadline = time.monotonic() + timeout
    while True:
        applied = await fetch("status", "SELECT event_id, applied_at FROM inbox")
        missing = [e for e in staged if e not in applied]
        if not missing or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)

    def moment(value) -> float:  # noqa: ANN001 - a datetime, or text on SQLite
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()

    delays = sorted((moment(applied[e]) - moment(t)) * 1000 for e, t in staged.items() if e in applied)
    return delays, len(missing)


def main() -> None:
    raw = os.environ.get("SBT_BENCH_SCALE", "1")
    try:
        scale = scaled(float(raw))
    except ValueError:  # a JSON object of overrides, with an optional "factor"
        overrides = json.loads(raw)
        scale = scaled(float(overrides.pop("factor", 1)), overrides)
    print(f"benchmarks on {backend()} at scale {scale['factor']:g}: {scale}", file=sys.stderr, flush=True)
    rows, notes = asyncio.run(run(scale))
    print(json.dumps({"backend": backend(), "scale": scale, "rows": rows, "notes": notes}))


if __name__ == "__main__":
    main()
