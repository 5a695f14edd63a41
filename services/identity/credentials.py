"""Client ids and secrets: made at random, the secret kept only as a slow salted hash (scrypt).

A stored hash carries its own parameters (``scrypt$n$r$p$salt$hash``), so the cost can be raised later
without invalidating the secrets already issued. Checking a secret costs the same whether the client
exists or not (``verify_secret(secret, None)`` checks against a dummy hash), so the time of an answer
does not tell which client ids exist.
"""

from __future__ import annotations

import base64
import functools
import os
import secrets

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SCHEME = "scrypt"
# 16 MiB and some tens of milliseconds per check: cheap for a client that asks for a token every few
# minutes, expensive for anyone guessing.
COST_N, BLOCK_R, PARALLEL_P = 2**14, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
# Longer inputs cannot be a secret this service made; refusing them keeps the check's cost bounded.
MAX_SECRET_LENGTH = 200


def new_client_id() -> str:
    return secrets.token_hex(16)


def new_secret() -> str:
    # Prefixed so that a leaked secret is recognisable (e.g. by secret scanners) for what it is.
    return "sbt_" + secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str) -> str:
    salt = os.urandom(SALT_BYTES)
    key = Scrypt(salt=salt, length=KEY_BYTES, n=COST_N, r=BLOCK_R, p=PARALLEL_P).derive(secret.encode())
    return f"{SCHEME}${COST_N}${BLOCK_R}${PARALLEL_P}${_b64(salt)}${_b64(key)}"


@functools.cache
def _dummy_hash() -> str:
    return hash_secret(new_secret())


def verify_secret(secret: str, stored: str | None) -> bool:
    """True when ``secret`` matches ``stored``; the comparison is constant-time (scrypt's own verify).
    With ``stored`` None (no such client) the same work is done against a dummy hash, and False returned."""
    if stored is None or len(secret) > MAX_SECRET_LENGTH:
        _check(secret[:MAX_SECRET_LENGTH], _dummy_hash())
        return False
    return _check(secret, stored)


def _check(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            return False
        kdf = Scrypt(salt=_unb64(salt), length=len(_unb64(key)), n=int(n), r=int(r), p=int(p))
        kdf.verify(secret.encode("utf-8", "surrogatepass"), _unb64(key))
        return True
    except (InvalidKey, ValueError):
        return False
