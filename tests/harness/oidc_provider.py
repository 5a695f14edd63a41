"""A real OpenID Connect provider for end-to-end tests: the npm package oidc-provider (OpenID Certified),
pinned in tests/harness/oidc/package-lock.json and installed there with ``npm ci`` the first time, run by
tests/harness/oidc/provider.js on Node.js with the clients and accounts a test gives it.

Without node or npm the tests that need it are skipped, saying so; a failed install fails them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness.ports import free_port, stop_process, wait_for

HERE = Path(__file__).resolve().parent / "oidc"
# oidc-provider 9 runs on these (package.json's engines).
NODE_AT_LEAST = (20, 19)


def node_or_skip() -> str:
    """The node binary, with oidc-provider installed beside provider.js."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("no OpenID provider: Node.js and npm are needed to run oidc-provider (install nodejs and npm)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    found = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if found < NODE_AT_LEAST:
        pytest.skip(f"no OpenID provider: oidc-provider needs Node.js {'.'.join(map(str, NODE_AT_LEAST))} or "
                    f"newer, this machine has {version}")
    if not (HERE / "node_modules" / "oidc-provider" / "package.json").exists():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"npm ci in {HERE} failed:\n{done.stdout}\n{done.stderr}"
    return node


class OidcProvider:
    """One provider process on a free port of 127.0.0.1 (or ``host``, e.g. localhost, to be another site
    than the dashboard for a browser)."""

    def __init__(self, folder: Path, *, clients: list[dict], accounts: dict[str, dict], host: str = "127.0.0.1",
                 port: int | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.issuer = f"http://{host}:{self.port}"
        self.clients = clients
        self.accounts = accounts
        self.log = folder / f"oidc-provider-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> OidcProvider:
        node = node_or_skip()
        config = self.folder / f"oidc-provider-{self.port}.json"
        config.write_text(json.dumps({"port": self.port, "issuer": self.issuer, "clients": self.clients,
                                      "accounts": self.accounts}))
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([node, str(HERE / "provider.js"), str(config)], cwd=HERE, stdout=log,
                                            stderr=subprocess.STDOUT)

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the OpenID provider exited:\n{self.log.read_text(errors='replace')}")
            return f"ready {self.issuer}" in self.log.read_text(errors="replace")

        wait_for(ready, 30, "the OpenID provider listening")
        return self

    def stop(self) -> None:
        stop_process(self.process, grace=5)
        self.process = None
