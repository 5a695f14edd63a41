"""The test NATS server runs with the deployment's own permissions (deploy/nats/auth.conf): each service
process connects as its own user with a password made for this test system.

Connections without credentials (tests that inject forged or duplicate events on purpose) get the
``ops`` user through ``no_auth_user``, which exists only in this test wrapper, never in deployment."""

from __future__ import annotations

import shutil
from pathlib import Path

from shared.nats_login import new_password
from shared.nats_permissions import AUTH_CONF, OPS_USER, password_variable, service_users


def make_passwords() -> dict[str, str]:
    return {user: new_password() for user in [*service_users(), OPS_USER]}


def write_test_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(AUTH_CONF, folder / "auth.conf")
    config = folder / "nats.conf"
    config.write_text(f'include "auth.conf"\nno_auth_user: {OPS_USER}\n')
    return config


def server_env(passwords: dict[str, str]) -> dict[str, str]:
    """The environment nats-server resolves the config's password references from."""
    import os

    return {**os.environ, **{password_variable(user): password for user, password in passwords.items()}}


def service_env(service: str, passwords: dict[str, str]) -> dict[str, str]:
    if service not in passwords:
        return {}
    return {"SBT_NATS_USER": service, "SBT_NATS_PASSWORD": passwords[service]}
