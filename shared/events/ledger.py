"""Events published by the status service about its verifiable ledger."""

from __future__ import annotations

from pydantic import Field

from shared.events.base import EventData


class LedgerCheckpoint(EventData):
    """A signed checkpoint of the status service's ledger.

    The Merkle tree (RFC 9162) over every event the status service logged, in log order, had ``tree_size``
    leaves and root ``root_hash``. Published periodically and on demand so that any agency keeps the
    checkpoints it saw and can later demand consistency proofs between them."""

    event_type = "sbt.ledger.checkpoint.v1"
    producer = "status"

    log_id: str
    tree_size: int = Field(ge=0)
    root_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    time: str = Field(description="when the checkpoint was signed, RFC 3339 UTC; part of what is signed")
    key_id: str
    signature: str = Field(description="base64 Ed25519 signature over the checkpoint body (shared/ledger/checkpoint.py)")

    examples = [
        {
            "log_id": "sbt-status",
            "tree_size": 1204,
            "root_hash": "5f1b0c4e0c2f8d35f2bb2c3a1e4d6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5",
            "time": "2024-10-15T04:00:00.000000Z",
            "key_id": "status-2024",
            "signature": "k0f9n8bXh0mGr2wJQ4o9Zp8xS1qj2v3w4x5y6z7A8B9C0D1E2F3G4H5I6J7K8L9M0N1O2P3Q4R5S6T7U8V9W0XY==",
        }
    ]
