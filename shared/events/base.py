"""The base of every event payload model."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """An event's ``data``. Subclasses name their CloudEvents ``type`` and the producer that owns it.

    Producers and consumers use the same model; a change that breaks a consumer is a new version
    (a new class with ``...v2``), never an edit of a published one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    producer: ClassVar[str]
    # One or two example payloads: the golden messages the contract tests validate and consumers test with.
    examples: ClassVar[list[dict[str, Any]]] = []
