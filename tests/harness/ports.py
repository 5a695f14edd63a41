"""Free loopback ports and polling helpers for tests that run real processes."""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_between(low: int, high: int) -> int:
    """A free loopback port in [low, high] (for settings that bound the port, such as SBT_PORT_OFFSET)."""
    for candidate in random.sample(range(low, high + 1), k=min(200, high - low + 1)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    raise RuntimeError(f"no free port between {low} and {high}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not reached within {timeout}s")


async def eventually(check: Callable[[], Awaitable[object]], timeout: float = 10.0, what: str = "condition"):
    """Poll an async check until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{what} not reached within {timeout}s (last: {last!r})")


def stop_process(process, grace: float = 10.0) -> None:  # noqa: ANN001 - a subprocess.Popen or None
    """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def kill_process(process) -> None:  # noqa: ANN001
    """SIGKILL: the process gets no chance to clean up (crash tests)."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
