"""The operator's commands against a system run like `make run` runs it: a NATS that refuses anonymous
clients (no ``no_auth_user``, unlike the other end-to-end tests), and the logins in the data folder's
credentials file, where `sbt replay`, `sbt export --from-stream` and `sbt verify --from-stream` find the
``ops`` login on their own."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from shared.events import EVENT_MODELS, nats_subject
from shared.nats_permissions import OPS_USER
from tests.harness import nats_auth
from tests.harness.ports import eventually
from tests.unit.ledger_fixtures import case_log

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def sbt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.cli", "--lang", "en", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


async def test_replay_and_stream_commands_log_in_as_ops_on_a_nats_that_refuses_anonymous_clients(
    make_system, tmp_path
):
    config = nats_auth.write_test_config(tmp_path / "closed-nats", anonymous_as_ops=False)
    system = await make_system("status", nats_config=config, extra_env={"SBT_LEDGER_CHECKPOINT_SECONDS": "0"})
    nats_auth.write_embedded_credentials(system.data_dir, system.nats_passwords)
    # The command's environment is an operator's beside `make run`: no NATS address or login of its own,
    # only the embedded server's port, so the login comes from the credentials file.
    env = {k: v for k, v in system.env.items() if k not in ("SBT_NATS_URL", "SBT_NATS_USER", "SBT_NATS_PASSWORD")}
    env["SBT_EMBEDDED_NATS_PORT"] = str(system.nats.port)

    # The server lets no one in without a login ...
    with pytest.raises(Exception, match="(?i)authorization"):
        await nats.connect(system.nats.url, allow_reconnect=False, max_reconnect_attempts=0)
    # ... so the events go in as the operator.
    events = case_log()
    connection = await nats.connect(system.nats.url, user=OPS_USER, password=system.nats_passwords[OPS_USER])
    js = connection.jetstream()
    for envelope in events:
        await js.publish(nats_subject(EVENT_MODELS[envelope.type]), envelope.model_dump_json(exclude_none=True).encode(),
                         headers={"Nats-Msg-Id": envelope.id})
    await connection.close()

    async def applied():
        async with system.client("status", system.token("BKN", "observer")) as client:
            return (await client.get("/v1/ledger/checkpoint")).json()["tree_size"] >= len(events)

    await eventually(applied, 20, "the status service applied the events")

    replayed = await asyncio.to_thread(sbt, env, "replay")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"replayed {len(events)} events" in replayed.stdout
    assert "OK: the replay reproduces the live projection" in replayed.stdout

    exported = await asyncio.to_thread(sbt, env, "export", "--from-stream", str(tmp_path / "stream.jsonl"))
    assert exported.returncode == 0, exported.stderr
    assert f"{len(events)} events" in exported.stdout

    verified = await asyncio.to_thread(sbt, env, "verify", "--from-stream")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK: verified" in verified.stdout

    # Without the credentials file the same command is refused in seconds, in one line, naming the reason.
    (system.data_dir / "nats" / "credentials.json").unlink()
    started = time.monotonic()
    refused = await asyncio.to_thread(sbt, env, "replay")
    assert refused.returncode == 1
    assert time.monotonic() - started < 30
    assert "Traceback" not in refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(f"cannot reach NATS at nats://127.0.0.1:{system.nats.port}")
    assert "authorization violation" in last
