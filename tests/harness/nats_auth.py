"""The test NATS server runs with the deployment's own permissions (deploy/nats/auth.conf): each service
process connects as its own user with a password made for this test system.

Connections without credentials (tests that inject forged or duplicate events on purpose) get the
``ops`` user through ``no_auth_user``, which exists only in this test wrapper, never in deployment."""

from __future__ import annotations

import shutil
from pathlib import Path

from shared.nats_login import CREDENTIALS_FILE, new_password
from shared.nats_permissions import AUTH_CONF, OPS_USER, password_variable, service_users


def make_passwords() -> dict[str, str]:
    return {user: new_password() for user in [*service_users(), OPS_USER]}


def write_test_config(folder: Path, *, anonymous_as_ops: bool = True) -> Path:
    """``anonymous_as_ops=False``: the server refuses clients without a login, as `make run`'s does."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(AUTH_CONF, folder / "auth.conf")
    config = folder / "nats.conf"
    config.write_text('include "auth.conf"\n' + (f"no_auth_user: {OPS_USER}\n" if anonymous_as_ops else ""))
    return config


def write_embedded_credentials(data_dir: Path, passwords: dict[str, str]) -> Path:
    """The logins where `make run` keeps them (shared/nats_login.py), readable by their owner only."""
    import json
    import os

    path = data_dir / CREDENTIALS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(passwords, handle)
    return path


def server_env(passwords: dict[str, str]) -> dict[str, str]:
    """The environment nats-server resolves the config's password references from."""
    import os

    return {**os.environ, **{password_variable(user): password for user, password in passwords.items()}}


def service_env(service: str, passwords: dict[str, str]) -> dict[str, str]:
    if service not in passwords:
        return {}
    return {"SBT_NATS_USER": service, "SBT_NATS_PASSWORD": passwords[service]}
