"""Intake's rules, free of I/O."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def open_case_key(nip: str, election_code: str) -> str:
    """Several reports about one civil servant in one election belong to one open case."""
    return f"{nip}:{election_code}"


def request_fingerprint(body: dict[str, Any]) -> str:
    """Identifies a request body so a reused Idempotency-Key with another body is caught."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
