"""A whole SBT system for end-to-end tests: a real nats-server, real databases, and each service as a
real process on a real port, which a test can stop, kill and start again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import text

from services.intake.reference import seeding
from services.cli.runner import healthy
from shared.auth import mint_token
from shared.clock import Clock
from shared.db import create_engine
from shared.migrations import upgrade
from services.cli.settings import SystemSettings
from tests.harness import nats_auth
from tests.harness.database import TestDatabases
from tests.harness.signing import install_test_keys
from tests.harness.nats import NatsServer
from tests.harness.ports import free_port, kill_process, stop_process, wait_for

ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.port = free_port()
        self.log = log_dir / f"{name}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", self.name, "--port", str(self.port)],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )

    def wait_healthy(self, timeout: float = 60) -> None:
        def running_and_healthy() -> bool:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            return healthy(f"{self.url}/healthz")

        wait_for(running_and_healthy, timeout, f"{self.name} healthy")

    def start(self) -> None:
        self.launch()
        self.wait_healthy()

    def stop(self) -> None:
        stop_process(self.process, grace=15)
        self.process = None

    def kill(self) -> None:
        kill_process(self.process)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


async def seed_reference_tables(url: str, *, publish: bool = False) -> None:
    """Intake's database migrated, with the shipped reference tables (and their events staged if ``publish``)."""
    await asyncio.to_thread(upgrade, "intake", url)
    await seeding.load_once(url, clock=Clock(), publish=publish)


class SbtSystem:
    def __init__(self, folder: Path, services: list[str], *, extra_env: dict[str, str] | None = None,
                 nats_config: Path | None = None, nats=None,  # noqa: ANN001 - a NatsServer or NatsCluster
                 extra_databases: tuple[str, ...] = (), reference_data: bool | str = True) -> None:
        """``extra_databases``: databases made and dropped with the system's own, for a command's use (a
        replay's fresh tables), at ``databases.url(name)``. ``reference_data``: intake starts with the
        shipped reference tables (as after `sbt run`'s first start), but without their events, so that
        the stream holds only what the test itself does; ``"published"``: with their events too, as
        `sbt run` does, for tests of what the other services make of them (PPK titles, the catalogue)."""
        self.reference_data = reference_data
        self.folder = folder
        self.data_dir = folder / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        install_test_keys(self.data_dir)
        self.databases = TestDatabases(folder, [*services, *extra_databases])
        # Each service is its own NATS user with the deployment's permissions (tests/harness/nats_auth.py).
        self.nats_passwords = nats_auth.make_passwords()
        if nats is None and nats_config is None:
            nats_config = nats_auth.write_test_config(folder / "nats-config")
        self.nats = nats if nats is not None else NatsServer(
            folder / "nats", config=nats_config, env=nats_auth.server_env(self.nats_passwords)
        )
        self.settings = SystemSettings(env="test", data_dir=self.data_dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SBT_")}
        env.update(
            SBT_ENV="test",
            SBT_DATA_DIR=str(self.data_dir),
            SBT_DATABASE_URL=self.databases.template,
            SBT_NATS_URL=self.nats.url,
            SBT_RELAY_SWEEP_SECONDS="0.2",
            SBT_CONSUMER_RETRY_DELAY_SECONDS="0.1",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env or {})
        self.env = env
        self.services = {
            name: ServiceProcess(name, {**env, **nats_auth.service_env(name, self.nats_passwords)}, folder)
            for name in services
        }
        # The dashboard signs people in at identity and sends their decisions to the deciding services,
        # each on its own port here.
        for target in ("identity", "recommendation", "sanction", "blocking"):
            if target in self.services:
                for service in self.services.values():
                    service.env.setdefault(f"SBT_{target.upper()}_URL", self.services[target].url)
        self.replicas: list[ServiceProcess] = []

    async def start(self) -> "SbtSystem":
        await self.databases.create()
        if self.reference_data and "intake" in self.services:
            await seed_reference_tables(self.databases.url("intake"), publish=self.reference_data == "published")
        self.nats.start()
        mint_token(self.settings, agency="SBT", roles=["admin"])  # makes the shared development key once
        for service in self.services.values():
            service.launch()
        for service in self.services.values():
            service.wait_healthy()
        return self

    async def stop(self) -> None:
        processes = [*self.replicas, *self.services.values()]
        for service in processes:  # signal all first, so they shut down side by side
            if service.process is not None and service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        for service in processes:
            service.stop()
        self.nats.stop()
        await self.databases.drop()

    def add_replica(self, name: str) -> ServiceProcess:
        """Another process of an existing service: same database, same durable consumer, own port."""
        replica = ServiceProcess(name, self.services[name].env, self.folder)
        self.replicas.append(replica)
        replica.start()
        return replica

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def token(self, agency: str, *roles: str, ppk_agency: str | None = None, client_id: str | None = None,
              bkn_office: str | None = None) -> str:
        return mint_token(self.settings, agency=agency, roles=list(roles), ppk_agency=ppk_agency, client_id=client_id,
                          bkn_office=bkn_office)

    def client(self, service: str, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.services[service].url, headers=headers, timeout=10)

    async def execute(self, service: str, statement: str, **params) -> None:
        """Change a service's own database directly (to set up a test's situation only)."""
        engine = create_engine(self.databases.url(service))
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement), params)
        finally:
            await engine.dispose()

    async def scalar(self, service: str, query: str, **params):  # noqa: ANN201
        """Read one value straight from a service's own database (for assertions only)."""
        engine = create_engine(self.databases.url(service))
        try:
            async with engine.connect() as connection:
                return (await connection.execute(text(query), params)).scalar()
        finally:
            await engine.dispose()
