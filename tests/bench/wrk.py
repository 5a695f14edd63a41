"""Runs wrk (a separate load-generator process on loopback, pinned to its own core when asked) and reads its
figures: throughput, latency, every answer's status code, socket errors and timeouts, the CPU wrk itself
used and the CPU the measured server used meanwhile, and the machine's load average before and after."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench.machine import cpu_seconds, load_average

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
# NIP files for wrk hold one NIP per fixed-width line, so a script can pick any of millions of them by
# offset in one string instead of a Lua table of millions of strings.
NIP_WIDTH = 19  # 18 digits and a newline

# Every request is about a NIP picked uniformly from the file (or, ``sequential``, the next one from
# ``offset`` on, when every request must be about another civil servant: filing reports). A "{nip}" in the
# path or the body is replaced by it. ``bulk`` > 0: the body is a list of that many NIPs, one of 64 lists
# drawn at the start, so requests do not all send the same list. Every answer's status is counted and
# written out at the end (``done``), so that a row can say what its non-2xx answers were.
_SCRIPT = """
local data = nil
local count = 0
local width = %(width)d
local token = "%(token)s"
local path = "%(path)s"
local method = "%(method)s"
local body_file = "%(body)s"
local body = nil
local sequential = %(sequential)s
local counter = %(offset)d
local bulk = %(bulk)d
local bodies = {}
local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
local threads = {}
statuses = {}

local function nip_at(i)
  return string.sub(data, i * width + 1, i * width + width - 1)
end

function setup(thread)
  thread:set("seed", #threads + %(seed)d)
  threads[#threads + 1] = thread
end

function init(args)
  local f = io.open("%(nips)s", "rb"); data = f:read("*a"); f:close()
  count = math.floor(#data / width)
  math.randomseed(seed or %(seed)d)
  if body_file ~= "" then local b = io.open(body_file, "r"); body = b:read("*a"); b:close() end
  if bulk > 0 then
    for k = 1, 64 do
      local picked = {}
      for j = 1, bulk do picked[j] = nip_at(math.random(0, count - 1)) end
      bodies[k] = '{"nips":["' .. table.concat(picked, '","') .. '"]}'
    end
  end
end

request = function()
  local nip
  if sequential then
    nip = nip_at(counter %% count)
    counter = counter + 1
  else
    nip = nip_at(math.random(0, count - 1))
  end
  local this_body = body
  if bulk > 0 then
    this_body = bodies[math.random(1, 64)]
  elseif body ~= nil then
    this_body = (string.gsub(body, "{nip}", nip))
  end
  return wrk.format(method, (string.gsub(path, "{nip}", nip)), headers, this_body)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses")
    for status, n in pairs(counted) do merged[status] = (merged[status] or 0) + n end
  end
  io.write("STATUSES")
  for status, n in pairs(merged) do io.write(" ", status, "=", n) end
  io.write("\\n")
end
"""


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    seconds: float
    statuses: dict[int, int] = field(default_factory=dict)  # status code -> answers
    socket_errors: dict[str, int] = field(default_factory=dict)  # connect, read, write, timeout
    wrk_cpu: float = 0.0  # CPU seconds wrk used
    server_cpu: float = 0.0  # CPU seconds the measured server processes used meanwhile
    load_before: float = 0.0  # the machine's 1-minute load average before and after
    load_after: float = 0.0

    @property
    def failures(self) -> dict[str, int]:
        """Every answer that was not a success, by kind: "404", "503", "timeout", "read", ..."""
        found = {str(status): n for status, n in sorted(self.statuses.items()) if not 200 <= status < 300}
        found.update({kind: n for kind, n in self.socket_errors.items() if n})
        return found

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    @property
    def per_server_cpu_second(self) -> float:
        """Successful requests per CPU-second of the server."""
        good = self.requests - sum(n for status, n in self.statuses.items() if not 200 <= status < 300)
        return good / self.server_cpu if self.server_cpu > 0 else 0.0


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed for `make bench` (apt-get install wrk)")
    return found


def write_nips(path: Path, nips: Sequence[str]) -> Path:
    """A NIP file for ``run_wrk`` (fixed-width lines)."""
    with path.open("w") as handle:
        for nip in nips:
            if len(nip) != NIP_WIDTH - 1:
                raise ValueError(f"NIP of {len(nip)} characters: {nip!r}")
            handle.write(nip + "\n")
    return path


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def pinned(command: list[str], cpu: int | None) -> list[str]:
    """``command`` run on CPU ``cpu`` only (taskset), or as it is when there is no CPU to give it."""
    if cpu is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(cpu), *command]


def run_wrk(url: str, *, path: str, token: str, nips_file: Path, seconds: float = 10, connections: int = 32,
            threads: int = 1, method: str = "GET", body: bytes | None = None, sequential: bool = False,
            offset: int = 0, bulk: int = 0, cpu: int | None = None, server_pids: Sequence[int] = (),
            seed: int = 1) -> WrkResult:
    """``cpu``: the core wrk is pinned to; ``server_pids``: the processes whose CPU is the server's."""
    with tempfile.TemporaryDirectory() as scratch:
        body_file = ""
        if body is not None:
            body_file = str(Path(scratch) / "body.json")
            Path(body_file).write_bytes(body)
        script = Path(scratch) / "script.lua"
        script.write_text(_SCRIPT % {"nips": nips_file, "token": token, "path": path, "method": method,
                                     "body": body_file, "sequential": "true" if sequential else "false",
                                     "offset": offset, "bulk": bulk, "width": NIP_WIDTH, "seed": seed})
        stdout = Path(scratch) / "stdout"
        command = pinned([ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                          "--latency", "-s", str(script), url], cpu)
        load_before = load_average()
        server_before = sum(cpu_seconds(pid) for pid in server_pids)
        started = time.perf_counter()
        with stdout.open("w") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        server_cpu = sum(cpu_seconds(pid) for pid in server_pids) - server_before
        output = stdout.read_text()
    if process.returncode != 0 or "Requests/sec" not in output:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output[-2000:]}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latencies = {int(p): _ms(v, u) for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)}
    total = int(re.search(r"(\d+) requests in", output).group(1))
    statuses: dict[int, int] = {}
    line = re.search(r"^STATUSES(.*)$", output, re.M)
    for pair in (line.group(1).split() if line else []):
        status, n = pair.split("=")
        statuses[int(status)] = int(n)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"), (int(g) for g in socket.groups()), strict=True)) \
        if socket else {}
    return WrkResult(rps, latencies.get(50, 0.0), latencies.get(99, 0.0), total, elapsed, statuses, socket_errors,
                     wrk_cpu=usage.ru_utime + usage.ru_stime, server_cpu=server_cpu, load_before=load_before,
                     load_after=load_average())
