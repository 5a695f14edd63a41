"""Signed receipts: what a reporter keeps to prove, later and to anyone, that intake accepted their report.

A receipt names the complaint number, the moment intake received the report and the SHA-256 of what was
filed (the RFC 8785 canonical JSON of the report as intake validated it), signed by intake's own Ed25519
event key (shared/events/signing.py), so it verifies offline against the same pinned key as intake's
events (``SBT_PRODUCER_KEYS``, ``GET /v1/ledger/keys`` under ``producers.intake``, or ``sbt producer-keys``).

The signature covers a domain tag and the canonical JSON of the receipt without its signature: an event's
signature (over an envelope's canonical JSON, which starts with ``{``) can never pass for a receipt's, nor
the reverse, although one key signs both.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.events.envelope import canonical_bytes
from shared.events.signing import ProducerKeys, SigningKey

VERSION = "sbt-receipt-1"
PRODUCER = "intake"
_DOMAIN = b"sbt-receipt-v1\n"


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(default=VERSION, description="The receipt format.")
    complaint_number: str = Field(description="The number to check progress with (Cek Status Laporan).")
    received_at: str = Field(description="When intake received the report (ISO 8601, UTC).")
    filed_sha256: str = Field(description="SHA-256 (hex) of the RFC 8785 canonical JSON of the report as filed.")
    issuer: str = Field(default=PRODUCER, description="The service whose key signed it.")
    keyid: str = Field(description="The id of the issuer's key that signed it.")
    signature: str = Field(description="Ed25519 over the domain tag and the canonical JSON of the other fields "
                                       "(base64url, no padding).")


def filed_sha256(filed: dict[str, Any]) -> str:
    """The hash of what was filed: the validated report as JSON (``ReportIn.model_dump(mode="json")``)."""
    return hashlib.sha256(canonical_bytes(filed)).hexdigest()


def _message(fields: dict[str, Any]) -> bytes:
    return _DOMAIN + canonical_bytes({k: v for k, v in fields.items() if k != "signature"})


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def issue(key: SigningKey, *, complaint_number: str, received_at: dt.datetime, filed: dict[str, Any]) -> Receipt:
    fields = {"version": VERSION, "complaint_number": complaint_number, "received_at": utc_text(received_at),
              "filed_sha256": filed_sha256(filed), "issuer": key.producer, "keyid": key.key_id}
    return Receipt(**fields, signature=key.sign(_message(fields)))


class InvalidReceipt(ValueError):
    """Why a receipt is not one intake issued."""


def check(receipt: Receipt, keys: ProducerKeys) -> None:
    """Raises ``InvalidReceipt`` unless ``receipt`` carries a valid signature of a pinned intake key."""
    if receipt.version != VERSION:
        raise InvalidReceipt(f"unknown receipt version {receipt.version!r}")
    if receipt.issuer != PRODUCER:
        raise InvalidReceipt(f"receipts are issued by {PRODUCER}, not {receipt.issuer!r}")
    try:
        base64.urlsafe_b64decode(receipt.signature + "=" * (-len(receipt.signature) % 4))
    except (binascii.Error, ValueError):
        raise InvalidReceipt("the signature is not base64url") from None
    refusal = keys.refusal(PRODUCER, None, receipt.keyid, receipt.signature, _message(receipt.model_dump()))
    if refusal is not None:
        raise InvalidReceipt(f"the receipt {refusal}")


def encode(receipt: Receipt) -> str:
    """The receipt as one URL-safe token, e.g. for ``GET /v1/public/complaints/{number}?receipt=...``."""
    return base64.urlsafe_b64encode(canonical_bytes(receipt.model_dump())).decode().rstrip("=")


def decode(token: str) -> Receipt:
    import orjson
    from pydantic import ValidationError

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return Receipt.model_validate(orjson.loads(raw))
    except (binascii.Error, ValueError, orjson.JSONDecodeError, ValidationError):
        raise InvalidReceipt("not a receipt (base64url of the receipt's JSON)") from None
