"""Identifiers: sortable event and entity ids, and unguessable complaint numbers."""

from __future__ import annotations

import hashlib
import secrets

from ulid import ULID

# Crockford base32 without the look-alikes, so a complaint number survives being read over the phone.
_COMPLAINT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A ULID: unique, and sortable by creation time."""
    return str(ULID())


def new_complaint_number(year: int) -> str:
    """``SBT-2026-XXXX-XXXX-XXXX``: 60 random bits, so it cannot be guessed from another one."""
    bits = secrets.randbits(60)  # one draw, five bits a character: the alphabet has 32 of them
    body = "".join(_COMPLAINT_ALPHABET[(bits >> shift) & 31] for shift in range(0, 60, 5))
    return f"SBT-{year}-{body[0:4]}-{body[4:8]}-{body[8:12]}"


def complaint_ref(number: str) -> str:
    """What travels on the bus instead of the complaint number itself: its SHA-256."""
    return hashlib.sha256(number.strip().upper().encode()).hexdigest()
