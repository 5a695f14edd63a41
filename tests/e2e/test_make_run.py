"""`make run` (`sbt run`): the whole embedded system from nothing, on its own NATS with per-service users.

This is the embedded default of the README (SQLite files under the data folder), so it runs on SQLite
whatever the suite's database; its own ports (SBT_EMBEDDED_NATS_PORT, SBT_PORT_OFFSET) keep it clear of
anything else on the machine, a NATS on 4222 included.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import nats
import pytest

from services.registry import SERVICES
from services.cli.runner import healthy
from shared.auth import mint_token
from shared.nats_login import connect_options, credentials_path
from shared.nats_permissions import OPS_USER
from shared.settings import SERVICE_PORTS
from services.cli.settings import SystemSettings
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually, free_port, port_open, stop_process, wait_for

pytestmark = pytest.mark.e2e


def _free_offset() -> int:
    """A port offset at which every service's port is free, below the ephemeral range (32768 and up on
    Linux) so that no outgoing connection takes one of them meanwhile."""
    for _ in range(50):
        offset = random.randrange(2000, 22000, 100)
        if not any(port_open(port + offset) for port in SERVICE_PORTS.values()):
            return offset
    raise RuntimeError("no free block of ports")


async def test_sbt_run_brings_up_every_service_on_an_embedded_nats_that_enforces_per_service_users(tmp_path: Path):
    settings = SystemSettings(env="development", data_dir=tmp_path / "var", embedded_nats_port=free_port(),
                        port_offset=_free_offset())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SBT_")}
    env.update(SBT_DATA_DIR=str(settings.data_dir), SBT_EMBEDDED_NATS_PORT=str(settings.embedded_nats_port),
               SBT_PORT_OFFSET=str(settings.port_offset), SBT_RELAY_SWEEP_SECONDS="0.2", PYTHONUNBUFFERED="1")
    log = (tmp_path / "run.log").open("wb")
    runner = subprocess.Popen([sys.executable, "-m", "services.cli", "run"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up() -> bool:
            assert runner.poll() is None, (tmp_path / "run.log").read_text()
            return all(healthy(f"http://127.0.0.1:{settings.service_port(s)}/healthz") for s in SERVICES)

        wait_for(up, 120, "every service of `sbt run`")

        # The runner made one password per NATS user, readable by its owner only.
        path = credentials_path(settings)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        passwords = json.loads(path.read_text())
        assert {*SERVICES, OPS_USER} - {"identity"} <= set(passwords)

        # The embedded server refuses anyone without a login ...
        with pytest.raises(Exception, match="(?i)authorization"):
            await nats.connect(settings.embedded_nats_url, allow_reconnect=False, max_reconnect_attempts=0)

        # ... and the services, each logged in as itself, still carry a report from intake to the status.
        nip = random_nip()
        reporter = mint_token(settings, agency="BAWASLU", roles=["reporter"])
        observer = mint_token(settings, agency="BKN", roles=["observer"])
        base = "http://127.0.0.1:{}"
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {reporter}"}, timeout=10) as client:
            response = await client.post(base.format(settings.service_port("intake")) + "/v1/reports",
                                         json=report_body(nip))
            assert response.status_code == 201, response.text

        async def reached_status():
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {observer}"}, timeout=10) as client:
                status = (await client.get(base.format(settings.service_port("status")) + f"/v1/asn/{nip}/status")).json()
                # case.opened and report.received may land in two batches: wait for the report itself.
                cases = status.get("cases") or []
                return status if cases and cases[0]["report_count"] == 1 else None

        status = await eventually(reached_status, 30, "the report reached the status service")
        assert status["cases"][0]["stage"] == "awaiting_verification"

        # An operator's command beside it finds the ops login on its own (sbt verify, sbt replay).
        connection = await nats.connect(**connect_options(settings, OPS_USER), allow_reconnect=False)
        try:
            info = await connection.jetstream().stream_info(settings.stream_name, subjects_filter="sbt.events.intake.>")
            subjects = info.state.subjects or {}
            # case.opened and report.received; and the shipped reference data, loaded on the first start.
            assert sum(n for subject, n in subjects.items() if not subject.endswith(".registered.v1")) == 2
            assert sum(n for subject, n in subjects.items() if subject.endswith(".registered.v1")) == 67 + 19 + 8
            # What each user may do is the deployment's own table, in force here too.
            assert connection.connected_url.port == settings.embedded_nats_port
        finally:
            await connection.close()
        assert "reference data: loaded deploy/seed (67 agencies, 19 violations, 8 elections)" in (
            tmp_path / "run.log").read_text()
        config = (settings.data_dir / "nats" / "nats.conf").read_text()
        assert 'include "auth.conf"' in config
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGINT)
            try:
                runner.wait(30)
            except subprocess.TimeoutExpired:
                stop_process(runner)
        log.close()
    # Ctrl-C stops everything: every service and the embedded NATS are gone.
    assert runner.returncode == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert not port_open(settings.embedded_nats_port)
    assert not any(port_open(settings.service_port(s)) for s in SERVICES)


def _children(parent: int) -> dict[str, int]:
    """The runner's processes by name (a service's, or "nats"), from /proc."""
    found = {}
    for task in Path(f"/proc/{parent}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            words = [word.decode() for word in command if word]
            if not words:
                continue  # exited, not yet reaped by the runner
            name = "nats" if any(w.endswith("nats-server") for w in words[:1]) else words[-1]
            found[name] = int(pid)
    return found


async def test_sbt_run_restarts_a_killed_service_or_nats_and_leaves_the_rest_running(tmp_path: Path):
    settings = SystemSettings(env="development", data_dir=tmp_path / "var", embedded_nats_port=free_port(),
                        port_offset=_free_offset())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SBT_")}
    env.update(SBT_DATA_DIR=str(settings.data_dir), SBT_EMBEDDED_NATS_PORT=str(settings.embedded_nats_port),
               SBT_PORT_OFFSET=str(settings.port_offset), SBT_RELAY_SWEEP_SECONDS="0.2", PYTHONUNBUFFERED="1")
    run_log = tmp_path / "run.log"
    log = run_log.open("wb")
    runner = subprocess.Popen([sys.executable, "-m", "services.cli", "run"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)

    def every_service_healthy() -> bool:
        assert runner.poll() is None, run_log.read_text()[-3000:]
        return all(healthy(f"http://127.0.0.1:{settings.service_port(s)}/healthz") for s in SERVICES)

    try:
        wait_for(every_service_healthy, 120, "every service of `sbt run`")
        before = _children(runner.pid)
        assert set(before) == {*SERVICES, "nats"}

        os.kill(before["status"], signal.SIGKILL)
        # One snapshot per probe: two reads of /proc can straddle the restart.
        wait_for(lambda: _children(runner.pid).get("status") not in (None, before["status"])
                 and every_service_healthy(), 15, "status restarted")
        after = _children(runner.pid)
        assert {k: v for k, v in after.items() if k != "status"} == {k: v for k, v in before.items() if k != "status"}
        assert "status exited (signal 9); restarting in 0.5 s" in run_log.read_text()

        os.kill(before["nats"], signal.SIGKILL)
        wait_for(lambda: _children(runner.pid).get("nats") not in (None, before["nats"])
                 and port_open(settings.embedded_nats_port), 15, "NATS restarted")
        assert "nats exited (signal 9); restarting in 0.5 s" in run_log.read_text()
        services = {k: v for k, v in _children(runner.pid).items() if k != "nats"}
        assert services == {k: v for k, v in after.items() if k != "nats"}  # no service stopped for it

        # And the system still carries a report from intake to the status service.
        nip = random_nip()
        reporter = mint_token(settings, agency="BAWASLU", roles=["reporter"])
        observer = mint_token(settings, agency="BKN", roles=["observer"])
        base = "http://127.0.0.1:{}"
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {reporter}"}, timeout=10) as client:
            response = await client.post(base.format(settings.service_port("intake")) + "/v1/reports",
                                         json=report_body(nip))
            assert response.status_code == 201, response.text

        async def reached_status():
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {observer}"}, timeout=10) as client:
                status = (await client.get(base.format(settings.service_port("status")) + f"/v1/asn/{nip}/status")).json()
                # case.opened and report.received may land in two batches: wait for the report itself.
                cases = status.get("cases") or []
                return status if cases and cases[0]["report_count"] == 1 else None

        await eventually(reached_status, 30, "the report reached the status service after NATS restarted")
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGTERM)
            try:
                runner.wait(30)
            except subprocess.TimeoutExpired:
                stop_process(runner)
        log.close()
    assert runner.returncode == 0, run_log.read_text()[-3000:]
    assert not port_open(settings.embedded_nats_port)
