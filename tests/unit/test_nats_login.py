"""The embedded system's NATS passwords: ones nats-server reads as written, kept across restarts."""

from __future__ import annotations

import json
import os
import stat
import subprocess

from shared.nats_login import credentials_path, embedded_credentials, new_password, readable_by_nats
from shared.nats_permissions import AUTH_CONF, OPS_USER, password_variable, service_users
from services.cli.settings import SystemSettings
from tests.harness.nats import nats_server_binary


def _server_accepts(tmp_path, passwords: dict[str, str]) -> subprocess.CompletedProcess:
    (tmp_path / "auth.conf").write_text(AUTH_CONF.read_text())
    config = tmp_path / "nats.conf"
    config.write_text('include "auth.conf"\n')
    env = {**os.environ, **{password_variable(user): password for user, password in passwords.items()}}
    return subprocess.run([nats_server_binary(), "-c", str(config), "-t"], env=env, capture_output=True, text=True,
                          timeout=30)


def test_a_password_beginning_with_a_dash_stops_nats_server_and_new_passwords_never_do(tmp_path):
    users = [*service_users(), OPS_USER]
    # What token_urlsafe once made for `make run`: nats-server took it for a negative number and did not start.
    assert _server_accepts(tmp_path, {user: "-RQ7iHSUzBuU5lictPY63xxoAQIgMjp7" for user in users}).returncode != 0
    made = [new_password() for _ in range(2000)]
    assert all(readable_by_nats(password) and len(password) == 32 for password in made)
    assert len(set(made)) == len(made)
    checked = _server_accepts(tmp_path, {user: made[i] for i, user in enumerate(users)})
    assert checked.returncode == 0, checked.stderr


def test_embedded_credentials_keep_good_passwords_and_replace_unreadable_ones(tmp_path):
    settings = SystemSettings(data_dir=tmp_path)
    first = embedded_credentials(settings, create=True)
    assert set(first) == {*service_users(), OPS_USER} and all(readable_by_nats(p) for p in first.values())
    path = credentials_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert embedded_credentials(settings, create=True) == first  # kept across restarts

    stale = {**first, "intake": "-RQ7iHSUzBuU5lictPY63xxoAQIgMjp7"}
    path.write_text(json.dumps(stale))
    mended = embedded_credentials(settings, create=True)
    assert readable_by_nats(mended["intake"]) and mended["intake"] != stale["intake"]
    assert {user: p for user, p in mended.items() if user != "intake"} == \
        {user: p for user, p in first.items() if user != "intake"}
    assert json.loads(path.read_text()) == mended
