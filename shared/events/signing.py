"""Producer signatures: what makes an event its producer's, not merely well chained.

A hash chain proves order, not authorship: whoever may publish on the bus (an operator, a leaked service
password) can compute the next correctly chained event of any producer. So every producer signs each event
with an Ed25519 key only it holds, over exactly the bytes its hash covers (the RFC 8785 canonical JSON of
the envelope without ``hash`` and ``signature``; ``keyid`` is inside them, so a signature cannot be moved
to another key). Every consumer, the status ledger, a replay and ``sbt verify`` check it against the
*pinned* set of producer public keys, and refuse an event whose signature is missing, invalid, or made by a
key not registered for its producer.

Keys:
- A producer's signing key: ``SBT_SIGNING_KEY`` (PEM, PKCS#8) with ``SBT_SIGNING_KEY_ID``, given only to that
  service (a mounted secret). In development and tests, a key per producer is made once under
  ``SBT_DATA_DIR/keys/events/`` (0600) and its key id is derived from the public key.
- The pinned set: ``SBT_PRODUCER_KEYS`` (JSON) or ``SBT_PRODUCER_KEYS_FILE`` (the same JSON in a file, e.g. a
  ConfigMap), ``{"<producer>": {"<key id>": {"public_key": "<PEM>", "last_producerseq": null}}}``, the same
  document ``GET /v1/ledger/keys`` publishes under ``producers`` and ``sbt producer-keys`` prints. In
  development the development keys are pinned, plus whatever ``SBT_PRODUCER_KEYS`` adds.

Rotation by key id: pin the new public key everywhere, switch the producer to the new key, then set the
old key's ``last_producerseq`` to the last sequence it signed. Events it signed stay valid; a later event
signed with it (a stolen retired key) is refused.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.settings import BusSettings

DEV_KEY_FOLDER = Path("keys") / "events"


class KeyConfigError(ValueError):
    """The signing key or the pinned key set is missing or malformed."""


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def key_id_for(producer: str, key: Ed25519PublicKey) -> str:
    """A key id that names the producer and the key: ``<producer>-<first 12 hex of SHA-256(public key)>``."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"{producer}-{hashlib.sha256(raw).hexdigest()[:12]}"


def load_private(pem: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as error:
        raise KeyConfigError(f"not a PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyConfigError("an event signing key must be Ed25519")
    return key


def load_public(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as error:
        raise KeyConfigError(f"not a PEM public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyConfigError("a producer key must be Ed25519")
    return key


@dataclass(frozen=True)
class SigningKey:
    """One producer's private key: signs the canonical bytes of each event it publishes."""

    producer: str
    key_id: str
    key: Ed25519PrivateKey

    def sign(self, message: bytes) -> str:
        return _b64e(self.key.sign(message))

    @property
    def public(self) -> Ed25519PublicKey:
        return self.key.public_key()


@dataclass(frozen=True)
class PinnedKey:
    key_id: str
    public: Ed25519PublicKey
    # The last producer sequence this key may have signed (a retired key); None: the key is current.
    last_producerseq: int | None = None


@dataclass
class ProducerKeys:
    """The pinned public keys of every producer: producer -> key id -> key."""

    keys: dict[str, dict[str, PinnedKey]] = field(default_factory=dict)

    def add(self, producer: str, pinned: PinnedKey) -> None:
        self.keys.setdefault(producer, {})[pinned.key_id] = pinned

    def refusal(self, producer: str, producerseq: int | None, key_id: str | None, signature: str | None,
                message: bytes) -> str | None:
        """Why an event of ``producer`` with this signature over ``message`` is not the producer's (None: it
        is). ``message``: the canonical bytes its hash covers."""
        if not signature or not key_id:
            return f"is not signed (no {'signature' if key_id else 'keyid'})"
        pinned = self.keys.get(producer, {}).get(key_id)
        if pinned is None:
            return f"is signed with key {key_id!r}, which is not a registered key of {producer}"
        if pinned.last_producerseq is not None and (producerseq or 0) > pinned.last_producerseq:
            return (f"is signed with retired key {key_id!r} of {producer}, valid only up to "
                    f"#{pinned.last_producerseq}")
        try:
            pinned.public.verify(_b64d(signature), message)
        except (InvalidSignature, ValueError):
            return f"does not carry a valid signature of {producer} (key {key_id})"
        return None

    def document(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The published, pinnable form (``SBT_PRODUCER_KEYS``, ``GET /v1/ledger/keys`` under ``producers``)."""
        return {producer: {kid: {"public_key": public_pem(pinned.public), "last_producerseq": pinned.last_producerseq}
                           for kid, pinned in sorted(keys.items())}
                for producer, keys in sorted(self.keys.items())}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ProducerKeys:
        if not isinstance(document, Mapping):
            raise KeyConfigError("the producer key set must be a JSON object of producer -> key id -> key")
        keys = cls()
        for producer, entries in document.items():
            if not isinstance(entries, Mapping):
                raise KeyConfigError(f"producer {producer!r}: expected an object of key id -> key")
            for kid, entry in entries.items():
                if isinstance(entry, str):  # a bare PEM
                    entry = {"public_key": entry}
                if not isinstance(entry, Mapping) or not isinstance(entry.get("public_key"), str):
                    raise KeyConfigError(f"{producer}/{kid}: expected {{'public_key': PEM, 'last_producerseq': n}}")
                last = entry.get("last_producerseq")
                if last is not None and (not isinstance(last, int) or isinstance(last, bool) or last < 0):
                    raise KeyConfigError(f"{producer}/{kid}: last_producerseq must be a whole number or null")
                keys.add(producer, PinnedKey(str(kid), load_public(entry["public_key"]), last))
        return keys

    def merged(self, other: ProducerKeys) -> ProducerKeys:
        merged = ProducerKeys({producer: dict(keys) for producer, keys in self.keys.items()})
        for producer, keys in other.keys.items():
            for pinned in keys.values():
                merged.add(producer, pinned)
        return merged


def producers() -> list[str]:
    """Every producer of the event catalogue."""
    from shared.events import EVENT_MODELS

    return sorted({model.producer for model in EVENT_MODELS.values()})


def _dev_key_pem(settings: BusSettings, producer: str) -> str:
    """The development key of ``producer``, made once (0600) and linked into place whole, so that processes
    starting together agree on it (as the development master key is made, shared/crypto.py)."""
    folder = settings.data_dir / DEV_KEY_FOLDER
    path = folder / f"{producer}.pem"
    if not path.exists():
        for level in (folder.parent, folder):  # keys/ and keys/events/, readable by their owner only
            level.mkdir(parents=True, exist_ok=True, mode=0o700)
            level.chmod(0o700)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{producer}-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(private_pem(Ed25519PrivateKey.generate()))
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text()


@lru_cache(maxsize=32)
def _signing_key(producer: str, key_id: str | None, pem: str) -> SigningKey:
    key = load_private(pem)
    return SigningKey(producer, key_id or key_id_for(producer, key.public_key()), key)


def signing_key_from_settings(settings: BusSettings, producer: str) -> SigningKey:
    """This producer's signing key: ``SBT_SIGNING_KEY`` in production, a development key otherwise."""
    if settings.signing_key:
        return _signing_key(producer, settings.signing_key_id, settings.signing_key)
    if settings.env == "production":
        raise KeyConfigError(f"SBT_SIGNING_KEY is not set for {producer} (no development keys in production)")
    return _signing_key(producer, None, _dev_key_pem(settings, producer))


def _configured(settings: BusSettings) -> ProducerKeys:
    keys = ProducerKeys()
    if settings.producer_keys_file is not None:
        try:
            keys = ProducerKeys.from_document(orjson.loads(Path(settings.producer_keys_file).read_bytes()))
        except (OSError, orjson.JSONDecodeError) as error:
            raise KeyConfigError(f"SBT_PRODUCER_KEYS_FILE: {error}") from None
    if settings.producer_keys:
        keys = keys.merged(ProducerKeys.from_document(settings.producer_keys))
    return keys


def producer_keys_from_settings(settings: BusSettings, *, with_dev_keys: Iterable[str] | None = None) -> ProducerKeys:
    """The pinned producer keys. Production: only what is configured. Development and tests: every
    producer's development key as well (``with_dev_keys``: which producers; default all)."""
    configured = _configured(settings)
    if settings.env == "production":
        if not configured.keys:
            raise KeyConfigError("SBT_PRODUCER_KEYS or SBT_PRODUCER_KEYS_FILE must be set in production")
        return configured
    dev = ProducerKeys()
    for producer in (producers() if with_dev_keys is None else with_dev_keys):
        signing = signing_key_from_settings(settings.model_copy(update={"signing_key": None}), producer)
        dev.add(producer, PinnedKey(signing.key_id, signing.public))
    return dev.merged(configured)
