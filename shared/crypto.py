"""Envelope encryption for what must stay confidential (the reporter's identity).

Each secret gets its own random 256-bit data key; the secret is sealed with AES-GCM under that data key,
and the data key is wrapped (AES-GCM again) under a master key named by a key id. Erasing a secret means
destroying its wrapped data key: the ciphertext may live on (in the event log, in backups) and can never be
opened again, which is what lets the audit trail stay intact after an erasure.

The master key comes from ``SBT_MASTER_KEY`` (base64, 32 bytes) with its id ``SBT_MASTER_KEY_ID``; retired
master keys stay in ``SBT_MASTER_KEYS_RETIRED`` (kid -> key) until every data key has been re-wrapped, so
the master key rotates without a flag day. In development a key is made under ``SBT_DATA_DIR`` on first use.

Both layers bind a context (e.g. the report id) as associated data, so a sealed value or a wrapped key
copied onto another report fails to open instead of revealing the wrong person.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.settings import SealSettings

DEV_MASTER_KEY_FILE = "dev-master-key"
DEV_MASTER_KEY_ID = "dev"
_VERSION = "v1"
_NONCE_BYTES = 12


class CryptoError(Exception):
    """A sealed value or wrapped key is malformed, was tampered with, or its key is unknown or destroyed."""


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_master_key(text: str) -> bytes:
    try:
        raw = _b64d(text.strip())
    except (ValueError, TypeError):
        raise ValueError("a master key must be base64") from None
    if len(raw) != 32:
        raise ValueError(f"a master key must be 32 bytes, got {len(raw)}")
    return raw


def new_master_key() -> str:
    """A fresh master key, base64 text, for ``SBT_MASTER_KEY``."""
    return _b64e(secrets.token_bytes(32))


def _dev_master_key(settings: SealSettings) -> str:
    path: Path = settings.data_dir / DEV_MASTER_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a name of its own (0600), then linked into place: a process starting at the
        # same moment finds no key file or a complete one, never a half-written one, and the first link wins.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".master-key-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(new_master_key())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


@dataclass(frozen=True)
class Keyring:
    """The current master key (wraps new data keys) and every master key still able to unwrap."""

    current_id: str
    keys: dict[str, bytes]

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise ValueError(f"the current master key id {self.current_id!r} has no key")

    @classmethod
    def from_settings(cls, settings: SealSettings) -> "Keyring":
        if settings.master_key:
            current_id, current = settings.master_key_id, settings.master_key
        elif settings.env == "production":
            raise RuntimeError("SBT_MASTER_KEY is not set")
        else:
            current_id, current = DEV_MASTER_KEY_ID, _dev_master_key(settings)
        keys = {kid: decode_master_key(text) for kid, text in settings.master_keys_retired.items()}
        keys[current_id] = decode_master_key(current)
        return cls(current_id, keys)

    # -- data keys -------------------------------------------------------------------------------------

    def new_data_key(self, context: str) -> tuple[bytes, str]:
        """A random data key and its wrapped form (``v1.<kid>.<nonce>.<ciphertext>``) to store."""
        data_key = AESGCM.generate_key(bit_length=256)
        return data_key, self._wrap(data_key, context)

    def _wrap(self, data_key: bytes, context: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current_id]).encrypt(nonce, data_key, _aad("key", self.current_id, context))
        return ".".join([_VERSION, self.current_id, _b64e(nonce), _b64e(sealed)])

    def unwrap(self, wrapped: str, context: str) -> bytes:
        version, kid, nonce, sealed = _split(wrapped, 4)
        if version != _VERSION:
            raise CryptoError(f"unknown wrapped-key version {version!r}")
        master = self.keys.get(kid)
        if master is None:
            raise CryptoError(f"master key {kid!r} is not configured")
        try:
            return AESGCM(master).decrypt(_b64d(nonce), _b64d(sealed), _aad("key", kid, context))
        except (InvalidTag, ValueError):
            raise CryptoError("the wrapped data key does not open under its master key") from None

    def rewrap(self, wrapped: str, context: str) -> str:
        """The same data key wrapped under the current master key (for rotation); the secret is untouched."""
        return self._wrap(self.unwrap(wrapped, context), context)

    def key_id_of(self, wrapped: str) -> str:
        return _split(wrapped, 4)[1]


def seal(data_key: bytes, plaintext: bytes, context: str) -> str:
    """``v1.<nonce>.<ciphertext>``: the plaintext sealed under its data key, bound to ``context``."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, plaintext, _aad("data", "", context))
    return ".".join([_VERSION, _b64e(nonce), _b64e(sealed)])


def open_sealed(data_key: bytes, sealed: str, context: str) -> bytes:
    version, nonce, ciphertext = _split(sealed, 3)
    if version != _VERSION:
        raise CryptoError(f"unknown sealed-value version {version!r}")
    try:
        return AESGCM(data_key).decrypt(_b64d(nonce), _b64d(ciphertext), _aad("data", "", context))
    except (InvalidTag, ValueError):
        raise CryptoError("the sealed value does not open under this data key") from None


def _aad(layer: str, kid: str, context: str) -> bytes:
    return f"sbt/{layer}/{kid}/{context}".encode()


def _split(text: str, parts: int) -> list[str]:
    pieces = text.split(".") if isinstance(text, str) else []
    if len(pieces) != parts or not all(pieces):
        raise CryptoError("malformed sealed value or wrapped key")
    return pieces
