"""The envelope every event travels in: CloudEvents 1.0 attributes plus the audit chain.

Extension attributes follow the CloudEvents naming rule (lower-case letters and digits only):
``producerseq`` (1, 2, 3 ... per producer), ``prevhash`` (the producer's previous event's ``hash``) and
``hash`` (SHA-256 over the RFC 8785 canonical JSON of the envelope without ``hash`` itself).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

import rfc8785
from pydantic import BaseModel, ConfigDict, Field

GENESIS_HASH = "0" * 64


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
    traceparent: str | None = None
    data: dict[str, Any]

    @property
    def producer(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    def without_hash(self) -> dict[str, Any]:
        return self.model_dump(exclude={"hash"}, exclude_none=True)

    def chained(self, seq: int, prevhash: str) -> "Envelope":
        unsigned = self.model_copy(update={"producerseq": seq, "prevhash": prevhash, "hash": None})
        return unsigned.model_copy(update={"hash": compute_hash(unsigned)})

    def hash_is_valid(self) -> bool:
        return self.hash is not None and compute_hash(self) == self.hash


def canonical_bytes(document: dict[str, Any]) -> bytes:
    return rfc8785.dumps(document)


def compute_hash(envelope: Envelope) -> str:
    return hashlib.sha256(canonical_bytes(envelope.without_hash())).hexdigest()


def utc_now_text(now: dt.datetime | None = None) -> str:
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
