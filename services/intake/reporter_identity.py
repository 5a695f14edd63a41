"""The reporter's identity: sealed on filing, opened only for roles that need it, erasable.

Each report's identity is sealed under a data key of its own (shared/crypto.py), bound to the report id;
the wrapped data key is kept in intake alone (``reporter_identity_keys``) and nothing of the identity
leaves intake (events published before carry only the ciphertext). Erasure deletes that report's key row
and sealed value and scrubs what the database keeps of them (services/intake/erasure.py); the report, its
case and its events stay as they were, so the case and its audit trail remain valid while the identity
is gone for good.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from shared.crypto import CryptoError, Keyring, open_sealed, seal
from shared.settings import SealSettings

_keyrings: dict[int, Keyring] = {}


def keyring(settings: SealSettings) -> Keyring:
    """One keyring per settings object (the development key file is read once)."""
    found = _keyrings.get(id(settings))
    if found is None:
        found = _keyrings[id(settings)] = Keyring.from_settings(settings)
    return found


def _context(report_id: str) -> str:
    return f"report/{report_id}/reporter"


@dataclass(frozen=True)
class SealedIdentity:
    sealed: str
    wrapped_key: str


def seal_identity(ring: Keyring, report_id: str, identity: dict[str, str]) -> SealedIdentity | None:
    """``None`` when the reporter gave no name or contact (nothing to protect)."""
    if not identity:
        return None
    data_key, wrapped = ring.new_data_key(_context(report_id))
    return SealedIdentity(seal(data_key, orjson.dumps(identity), _context(report_id)), wrapped)


def open_identity(ring: Keyring, report_id: str, sealed: str | None, wrapped_key: str | None) -> dict | None:
    """The identity, or ``None`` when there is none or it was erased (its key is gone)."""
    if not sealed or not wrapped_key:
        return None
    try:
        data_key = ring.unwrap(wrapped_key, _context(report_id))
        return orjson.loads(open_sealed(data_key, sealed, _context(report_id)))
    except (CryptoError, orjson.JSONDecodeError):
        return None
