"""Runs wrk (a separate load-generator process on loopback) and reads its figures."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}

# Picks a NIP from a list for every request, so the server cannot answer from one warm cache line; in
# sequence when every request must be about another civil servant (filing reports). A "{nip}" in the
# path or the body is replaced by it.
_SCRIPT = """
local nips = {}
for line in io.lines("%(nips)s") do nips[#nips + 1] = line end
local token = "%(token)s"
local path = "%(path)s"
local method = "%(method)s"
local body_file = "%(body)s"
local body = nil
if body_file ~= "" then local f = io.open(body_file, "r"); body = f:read("*a"); f:close() end
local sequential = %(sequential)s
local counter = 0
local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
request = function()
  local nip
  if sequential then
    counter = counter + 1
    nip = nips[((counter - 1) %% #nips) + 1]
  else
    nip = nips[math.random(#nips)]
  end
  local this_body = body
  if body ~= nil then this_body = (string.gsub(body, "{nip}", nip)) end
  return wrk.format(method, (string.gsub(path, "{nip}", nip)), headers, this_body)
end
"""


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed for `make bench` (apt-get install wrk)")
    return found


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def run_wrk(url: str, *, path: str, token: str, nips: list[str], seconds: int = 10, connections: int = 32,
            threads: int = 1, method: str = "GET", body: bytes | None = None, sequential: bool = False) -> WrkResult:
    with tempfile.TemporaryDirectory() as scratch:
        nip_file = Path(scratch) / "nips.txt"
        nip_file.write_text("\n".join(nips) + "\n")
        body_file = ""
        if body is not None:
            body_file = str(Path(scratch) / "body.json")
            Path(body_file).write_bytes(body)
        script = Path(scratch) / "script.lua"
        script.write_text(_SCRIPT % {"nips": nip_file, "token": token, "path": path, "method": method,
                                     "body": body_file, "sequential": "true" if sequential else "false"})
        output = subprocess.run(
            [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
            check=True, capture_output=True, text=True,
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latencies = dict(
        (int(p), _ms(v, u)) for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    )
    total = int(re.search(r"(\d+) requests in", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return WrkResult(rps, latencies.get(50, 0.0), latencies.get(99, 0.0), errors, total)
