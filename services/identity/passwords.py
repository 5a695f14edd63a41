"""People's secrets, pure: passwords kept as Argon2id hashes, TOTP codes (RFC 6238) for the roles that
must have a second factor, and the lockout rule for failed sign-ins.

An Argon2 hash carries its own parameters, so raising the cost later only needs ``needs_rehash``: the
next successful sign-in stores a hash with the new parameters. Checking a password costs the same whether
the account exists or not (``verify_password(password, None)`` checks against a dummy hash).
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are RFC 9106's second recommended option (Argon2id, 64 MiB, 3 passes).
HASHER = PasswordHasher()
# People choose passwords, so a floor; the ceiling keeps one check's cost bounded.
MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH = 12, 200
ISSUER = "SBT"
# Roles whose accounts must have a second factor: they change what others rely on (accounts, clients,
# reference data; blocks on civil servants' personnel data).
TOTP_ROLES = frozenset({"admin", "blocker"})


class PasswordRefused(ValueError):
    pass


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRefused(f"at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRefused(f"at most {MAX_PASSWORD_LENGTH} characters")
    if password != password.strip() or any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise PasswordRefused("no control characters and no spaces at either end")
    return password


def new_password() -> str:
    # 20 URL-safe characters: about 120 bits, and nothing that a terminal or a form would mangle.
    return secrets.token_urlsafe(15)


def hash_password(password: str, hasher: PasswordHasher = HASHER) -> str:
    return hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(new_password())


def verify_password(password: str, stored: str | None, hasher: PasswordHasher = HASHER) -> bool:
    """True when ``password`` matches ``stored``. With ``stored`` None (no such account) the same work is
    done against a dummy hash, and False returned."""
    candidate = password[:MAX_PASSWORD_LENGTH]
    try:
        matches = hasher.verify(stored or _dummy_hash(), candidate)
    except (VerificationError, InvalidHashError):
        return False
    return matches and stored is not None and len(password) <= MAX_PASSWORD_LENGTH


def needs_rehash(stored: str, hasher: PasswordHasher = HASHER) -> bool:
    return hasher.check_needs_rehash(stored)


def totp_required(roles: list[str] | frozenset[str]) -> bool:
    return bool(TOTP_ROLES & set(roles))


def new_totp_secret() -> str:
    return pyotp.random_base32()


def enrolment_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def verify_totp(secret: str, code: str, now: dt.datetime) -> bool:
    """The code of the current 30-second step, or of the one before or after (clocks drift)."""
    code = code.replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return False
    return pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)


@dataclass(frozen=True)
class Lockout:
    """After ``max_failures`` failed sign-ins in a row, the account refuses even the right password for
    ``seconds``; a successful sign-in starts the count again."""

    max_failures: int
    seconds: int

    def locked(self, locked_until: dt.datetime | None, now: dt.datetime) -> bool:
        return locked_until is not None and now < locked_until

    def after_failure(self, failures: int, now: dt.datetime) -> tuple[int, dt.datetime | None]:
        """The new count of failures and, when it reaches the limit, until when the account is locked
        (the count then starts again, so the next lock comes after as many failures again)."""
        failures += 1
        if failures >= self.max_failures:
            return 0, now + dt.timedelta(seconds=self.seconds)
        return failures, None
