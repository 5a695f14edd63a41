"""The ledger's request and response bodies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.ledger.checkpoint import Checkpoint, Cosignature


class EventProof(BaseModel):
    leaf_index: int
    audit_path: list[str] = Field(description="RFC 9162 inclusion path, hex, leaf side first")
    envelope: dict[str, Any] = Field(description="the event as logged; its `hash` is the leaf")


class InclusionProof(BaseModel):
    event_id: str
    leaf_index: int
    tree_size: int
    event_hash: str
    audit_path: list[str]
    checkpoint: Checkpoint


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str] = Field(description="RFC 9162 consistency proof, hex")
    checkpoint: Checkpoint = Field(description="a signed checkpoint of size `second`")


class CheckpointList(BaseModel):
    checkpoints: list[Checkpoint]


class CosignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: Checkpoint = Field(description="the checkpoint exactly as the witness checked and signed it")
    cosignature: Cosignature


class LedgerEntry(BaseModel):
    leaf_index: int
    stream_seq: int
    event_hash: str = Field(description="the hash the event was appended with")
    envelope: dict[str, Any]


class LedgerEntries(BaseModel):
    entries: list[LedgerEntry]
    next_after: int | None = Field(description="pass as `after` for the next page; null at the end")


class LedgerKeys(BaseModel):
    log_id: str
    keys: dict[str, str] = Field(description="key id -> Ed25519 public key (PEM) that signs checkpoints")
    witnesses: dict[str, str] = Field(description="key id -> public key (PEM) of accepted witnesses")
    producers: dict[str, dict[str, PinnedProducerKey]] = Field(
        default_factory=dict,
        description="producer -> key id -> public key that signs its events (the set this service pins; "
                    "`sbt verify --key` takes this whole document)")


class PinnedProducerKey(BaseModel):
    public_key: str = Field(description="Ed25519 public key (PEM)")
    last_producerseq: int | None = Field(description="a retired key: the last sequence it may have signed")


class Fork(BaseModel):
    id: int
    producer: str
    producerseq: int = Field(description="the place in the producer's chain two signed events claim")
    event_id: str = Field(description="the event kept out of the ledger (the logged one stays)")
    stream_seq: int
    envelope: dict[str, Any]
    detail: str
    detected_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: str | None
    resolution: str | None


class ForkList(BaseModel):
    forks: list[Fork]
    halted_producers: list[str] = Field(description="producers whose events are parked until their forks are resolved")


class ForkResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=3, max_length=2000,
                      description="what the operator found and decided (e.g. the producer's key was rotated)")


class ForkResolved(BaseModel):
    fork: Fork
    parked_events_applied: int


class StatusPage(BaseModel):
    statuses: list[dict[str, Any]] = Field(description="each case's status (shared.status_model.CaseStatus)")
    next_after: str | None
