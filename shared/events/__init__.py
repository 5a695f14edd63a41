"""Event contracts: the CloudEvents envelope and one Pydantic model per event type."""

from shared.events.base import EventData
from shared.events.catalog import EVENT_MODELS, event_model, nats_subject, producer_of_subject
from shared.events.envelope import GENESIS_HASH, Envelope, canonical_bytes, compute_hash

__all__ = [
    "EVENT_MODELS",
    "GENESIS_HASH",
    "Envelope",
    "EventData",
    "canonical_bytes",
    "compute_hash",
    "event_model",
    "nats_subject",
    "producer_of_subject",
]
