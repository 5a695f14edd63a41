"""The envelope every event travels in: CloudEvents 1.0 attributes plus the audit chain.

Extension attributes follow the CloudEvents naming rule (lower-case letters and digits only):
``producerseq`` (1, 2, 3 ... per producer), ``prevhash`` (the producer's previous event's ``hash``) and
``hash`` (SHA-256 over the RFC 8785 canonical JSON of the envelope without ``hash`` and ``signature``),
``keyid`` (the producer's signing key) and ``signature`` (Ed25519 by that key over the same canonical bytes
the hash covers, base64url; see shared/events/signing.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal, Protocol

import rfc8785
from pydantic import BaseModel, ConfigDict, Field

GENESIS_HASH = "0" * 64


class Signer(Protocol):
    """A producer's signing key (shared.events.signing.SigningKey)."""

    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> str: ...


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str = Field(pattern=r"^/sbt/[a-z]+$")
    type: str = Field(pattern=r"^sbt\.[a-z_.]+\.v[0-9]+$")
    time: str  # RFC 3339, UTC; kept as text so the hash never depends on datetime formatting
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    producerseq: int | None = None
    prevhash: str | None = None
    hash: str | None = None
    keyid: str | None = None
    signature: str | None = None
    traceparent: str | None = None
    data: dict[str, Any]

    @property
    def producer(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    def without_hash(self) -> dict[str, Any]:
        """What the hash and the signature cover: everything but themselves."""
        return self.model_dump(exclude={"hash", "signature"}, exclude_none=True)

    def chained(self, seq: int, prevhash: str, key: Signer | None = None) -> "Envelope":
        """This event as the ``seq``-th of its producer after ``prevhash``, signed with ``key`` if given."""
        unsigned = self.model_copy(update={"producerseq": seq, "prevhash": prevhash, "hash": None,
                                           "signature": None, "keyid": key.key_id if key else None})
        message = canonical_bytes(unsigned.without_hash())
        return unsigned.model_copy(update={"hash": hashlib.sha256(message).hexdigest(),
                                           "signature": key.sign(message) if key else None})

    def hash_is_valid(self) -> bool:
        return self.hash is not None and compute_hash(self) == self.hash


def canonical_bytes(document: dict[str, Any]) -> bytes:
    return rfc8785.dumps(document)


def compute_hash(envelope: Envelope) -> str:
    return hashlib.sha256(canonical_bytes(envelope.without_hash())).hexdigest()


def utc_now_text(now: dt.datetime | None = None) -> str:
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
