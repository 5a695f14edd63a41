"""What the bench reads about the machine and its processes: CPU time, peak memory, load average, pinning to
a core, and running a command with its own peak memory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` (all its threads) so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float | None:
    """The peak resident memory of a running process (VmHWM), in MiB; None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def load_average() -> float:
    return os.getloadavg()[0]


def cores() -> int:
    return len(os.sched_getaffinity(0))


def pin(pid: int, cpu: int | None) -> bool:
    """Every thread of process ``pid`` to CPU ``cpu`` (taskset); False when that is not possible here."""
    if cpu is None or shutil.which("taskset") is None:
        return False
    done = subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], capture_output=True)
    return done.returncode == 0


def unpin(pid: int) -> None:
    subprocess.run(["taskset", "-a", "-p", "-c", f"0-{os.cpu_count() - 1}", str(pid)], capture_output=True)


@dataclass
class Finished:
    stdout: str
    stderr: str
    returncode: int
    seconds: float
    peak_mib: float  # the command's own peak resident memory (its largest process's, not its children's sum)
    cpu: float  # CPU seconds it used


def run_python(*args: str, env: dict | None = None, cwd: Path | None = None, cpu: int | None = None,
               check: bool = True) -> Finished:
    """``python args`` as its own process (pinned to ``cpu`` if given), with its own peak memory and CPU."""
    command = [sys.executable, *args]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        out.seek(0), err.seek(0)
        finished = Finished(out.read(), err.read(), os.waitstatus_to_exitcode(status), elapsed,
                            usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)
    if check and finished.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    return finished
