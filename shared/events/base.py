"""The base of every event payload model."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class ImportableEventData(EventData):
    """An event that may also describe an agency's past case brought in by ``sbt import history``.

    Imported events are the same events, signed by the same producer, so every consumer folds them as it
    folds live ones; the three fields only say where they came from. Absent on live events.
    A consumer that would start live work from one (the sanction service's deadline) checks ``imported``.
    """

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """A live event's data without the three fields, byte for byte what it was before they existed."""
        dumped = super().model_dump(**kwargs)
        if self.imported is None and self.imported_by is None and self.source is None:
            for name in _IMPORT_MARK:
                dumped.pop(name, None)
        return dumped

    imported: Literal[True] | None = Field(default=None, description="True: from an agency's spreadsheet, not live.")
    imported_by: str | None = Field(default=None, max_length=100, description="The operator who imported it.")
    source: str | None = Field(default=None, max_length=300, description="The file and line it came from.")


_IMPORT_MARK = ("imported", "imported_by", "source")
