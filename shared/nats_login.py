"""Which NATS user a process connects as.

A deployment gives every service its own user (``SBT_NATS_USER`` / ``SBT_NATS_PASSWORD``; what each user
may do is in ``shared/nats_permissions.py``). The embedded system of ``make run`` makes those passwords
itself, once, and keeps them in ``<data dir>/nats/credentials.json`` (readable by its owner only), so that
a service or an operator's command (``sbt verify``, ``sbt replay``) started beside it finds its login
without any set-up. That file is used only for the embedded server's own address.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from pathlib import Path
from typing import Any

from shared.nats_permissions import OPS_USER, inbox_prefix, service_users
from shared.settings import BusSettings

CREDENTIALS_FILE = Path("nats") / "credentials.json"
# nats-server reads each password from its environment as a configuration value, not as plain text: one that
# begins with "-" is taken for a negative number and the server refuses to start, and other shapes may be
# read as numbers or addresses. Letters and digits, beginning with a letter, are read as the text they are.
_PASSWORD_CHARACTERS = string.ascii_letters + string.digits
_PASSWORD_LENGTH = 32  # about 190 bits


def new_password() -> str:
    """A password nats-server reads as written (see above)."""
    return secrets.choice(string.ascii_letters) + "".join(
        secrets.choice(_PASSWORD_CHARACTERS) for _ in range(_PASSWORD_LENGTH - 1))


def readable_by_nats(password: str) -> bool:
    return password[:1].isalpha() and password.isascii() and password.isalnum()


def credentials_path(settings: BusSettings) -> Path:
    return settings.data_dir / CREDENTIALS_FILE


def embedded_credentials(settings: BusSettings, *, create: bool = False) -> dict[str, str] | None:
    """user -> password of the embedded server; made on first use when ``create``, kept across restarts
    (a new user, e.g. a service added since, gets a password of its own)."""
    path = credentials_path(settings)
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if not create:
        return known or None
    wanted = [*service_users(), OPS_USER]
    if all(user in known and readable_by_nats(known[user]) for user in wanted):
        return known
    # Kept: the passwords the server can read. Made anew: missing ones, and any made before this rule.
    known = {**known, **{user: new_password() for user in wanted
                         if user not in known or not readable_by_nats(known[user])}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(known, handle, indent=2)
    return known


def login(settings: BusSettings, user: str) -> tuple[str, str] | None:
    """(user, password) to connect with: the configured login, else the embedded server's login of
    ``user``, else none (a server without authorization)."""
    if settings.nats_user:
        return settings.nats_user, settings.nats_password or ""
    if settings.nats_url != settings.embedded_nats_url:
        return None
    known = embedded_credentials(settings)
    if known and user in known:
        return user, known[user]
    return None


def connect_options(settings: BusSettings, user: str) -> dict[str, Any]:
    """nats-py ``connect`` arguments for ``user``: servers, and the login with the user's own inbox prefix,
    the only reply subjects that user may subscribe to."""
    options: dict[str, Any] = {"servers": [s.strip() for s in settings.nats_url.split(",")]}
    found = login(settings, user)
    if found is not None:
        name, password = found
        options.update(user=name, password=password, inbox_prefix=inbox_prefix(name))
    return options
