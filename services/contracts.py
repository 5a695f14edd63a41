"""Generates ``contracts/`` from the code: JSON Schema per event, OpenAPI per service, AsyncAPI for the
stream. The files are checked in; ``sbt contracts --check`` (and a test) fails when they drift."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from services.registry import SERVICES, create_app
from shared.events import EVENT_MODELS, Envelope, nats_subject
from shared.settings import Settings

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def event_schema(event_type: str) -> dict:
    model = EVENT_MODELS[event_type]
    schema = model.model_json_schema()
    schema["$id"] = f"https://sbt.example/contracts/events/{event_type}.schema.json"
    schema["title"] = event_type
    schema["x-producer"] = model.producer
    schema["x-nats-subject"] = nats_subject(model)
    schema["examples"] = model.examples
    return schema


def envelope_schema() -> dict:
    schema = Envelope.model_json_schema()
    schema["title"] = "SBT event envelope (CloudEvents 1.0 + audit chain)"
    return schema


def asyncapi() -> dict:
    channels, operations, messages = {}, {}, {}
    for event_type, model in sorted(EVENT_MODELS.items()):
        key = event_type.removeprefix("sbt.").replace(".", "_")
        messages[key] = {
            "name": event_type,
            "title": event_type,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else event_type,
            "contentType": "application/json",
            "payload": {"$ref": f"events/{event_type}.schema.json"},
            "x-envelope": {"$ref": "events/envelope.schema.json"},
        }
        channels[key] = {
            "address": nats_subject(model),
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"published by the {model.producer} service through its outbox",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "SBT case events",
            "version": "1.0.0",
            "description": "One JetStream stream (SBT_EVENTS) over sbt.events.>, subjects "
            "sbt.events.<producer>.<event>. Every message is a CloudEvents 1.0 envelope (JSON) with the "
            "producer's hash chain; Nats-Msg-Id is the event id.",
        },
        "defaultContentType": "application/json",
        "servers": {"embedded": {"host": "127.0.0.1:4322", "protocol": "nats"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def generate() -> dict[str, str]:
    files: dict[str, str] = {"events/envelope.schema.json": _dump(envelope_schema()), "asyncapi.json": _dump(asyncapi())}
    for event_type in EVENT_MODELS:
        files[f"events/{event_type}.schema.json"] = _dump(event_schema(event_type))
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(env="test", data_dir=Path(scratch))
        for service in SERVICES:
            files[f"openapi/{service}.json"] = _dump(create_app(service, settings).openapi())
    return files


def write_contracts(check: bool = False) -> list[str]:
    """Writes the files (or, with ``check``, only compares); returns the paths that differ."""
    files = generate()
    drift = []
    for relative, content in sorted(files.items()):
        path = CONTRACTS_DIR / relative
        current = path.read_text() if path.exists() else None
        if current != content:
            drift.append(relative)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
    for stale in sorted(CONTRACTS_DIR.rglob("*.json")):
        relative = stale.relative_to(CONTRACTS_DIR).as_posix()
        if relative not in files:
            drift.append(relative)
            if not check:
                stale.unlink()
    return drift
