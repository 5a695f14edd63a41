"""Generates ``contracts/`` from the code: JSON Schema per event, OpenAPI per service, AsyncAPI for the
stream. The files are checked in; ``sbt contracts --check`` (and a test) fails when they drift."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from services.registry import SERVICES, create_app
from shared.events import EVENT_MODELS, Envelope, nats_subject
from services.cli.settings import SystemSettings

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"


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


HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
# What every message on the wire carries beside the CloudEvents attributes: its place in the producer's hash
# chain and the producer's signature (shared/events/envelope.py); a message without them is refused.
WIRE_REQUIRED = ["specversion", "id", "source", "type", "time", "subject", "datacontenttype", "producerseq",
                 "prevhash", "hash", "keyid", "signature", "data"]
FEED_PARAMETER = "feed"
WEBHOOK_HEADERS = {
    "type": "object",
    "required": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "properties": {
        "webhook-id": {"type": "string", "description": "The event's id: the same on every attempt, so a "
                       "receiver applies each event once."},
        "webhook-timestamp": {"type": "string", "pattern": "^[0-9]+$", "description": "Seconds since the epoch."},
        "webhook-signature": {"type": "string", "description": "Space-separated v1,<base64 HMAC-SHA256> over "
                              "'<webhook-id>.<webhook-timestamp>.<body>', one per secret in force (two during a "
                              "rotation's overlap): the Standard Webhooks scheme."},
    },
}


def _self_contained(schema: dict) -> dict:
    """An event schema fit to sit inside another: no references of its own to resolve."""
    if "$defs" in json.dumps(schema):
        raise ValueError(f"{schema.get('title')}: nested definitions would not resolve inside the envelope")
    return {key: value for key, value in schema.items() if key not in {"$id", "$schema", "examples"}}


def wire_schema(event_type: str) -> dict:
    """The whole message as it travels: the CloudEvents envelope of this event type, with its chain and
    signature, and its ``data``. What a tool driven by the AsyncAPI document validates a real message with."""
    model = EVENT_MODELS[event_type]
    envelope = Envelope.model_json_schema()
    properties = dict(envelope["properties"])
    properties.update(
        type={"const": event_type},
        source={"const": f"/sbt/{model.producer}"},
        specversion={"const": "1.0"},
        datacontenttype={"const": "application/json"},
        producerseq={"type": "integer", "minimum": 1},
        prevhash=HASH,
        hash=HASH,
        keyid={"type": "string", "minLength": 1},
        signature={"type": "string", "pattern": "^[A-Za-z0-9_-]+$",
                   "description": "Ed25519 by the producer's key (keyid) over the RFC 8785 canonical JSON of the "
                                  "envelope without hash and signature; base64url."},
        traceparent={"type": "string"},
        data=_self_contained(event_schema(event_type)),
    )
    return {
        "title": f"{event_type} (envelope)",
        "type": "object",
        "additionalProperties": False,
        "required": WIRE_REQUIRED,
        "properties": properties,
        "examples": [{"specversion": "1.0", "id": "01JD00000000000000000000EV", "source": f"/sbt/{model.producer}",
                      "type": event_type, "time": "2024-11-05T00:00:00.000000Z", "subject": "01JD0000000000000000000002",
                      "datacontenttype": "application/json", "producerseq": 1, "prevhash": "0" * 64, "hash": "a" * 64,
                      "keyid": f"{model.producer}-000000000000", "signature": "c2lnbmF0dXJl", "data": example}
                     for example in model.examples[:1]],
    }


def asyncapi() -> dict:
    channels, operations, messages, schemas, webhook_messages = {}, {}, {}, {}, {}
    for event_type, model in sorted(EVENT_MODELS.items()):
        key = event_type.removeprefix("sbt.").replace(".", "_")
        schemas[key] = wire_schema(event_type)
        messages[key] = {
            "name": event_type,
            "title": event_type,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else event_type,
            "contentType": "application/cloudevents+json",
            "payload": {"$ref": f"#/components/schemas/{key}"},
            "headers": {"type": "object", "properties": {
                "Nats-Msg-Id": {"type": "string", "description": "The event id (JetStream drops a re-send)."},
                "traceparent": {"type": "string"}}},
            "x-data-schema": {"$ref": f"events/{event_type}.schema.json"},
        }
        channels[key] = {
            "address": nats_subject(model),
            "servers": [{"$ref": "#/servers/nats"}],
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"published by the {model.producer} service through its outbox",
        }
        feed_key = f"feed_{key}"
        channels[feed_key] = {
            "address": f"sbt.feeds.{{{FEED_PARAMETER}}}.{nats_subject(model).removeprefix('sbt.events.')}",
            "description": "The same message, unchanged, on an agency's feed (stream SBT_FEEDS): the agency's code, "
                           "or NATIONAL for every agency's.",
            "parameters": {FEED_PARAMETER: {"description": "an agency code, or NATIONAL"}},
            "servers": [{"$ref": "#/servers/nats"}],
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"read_{feed_key}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{feed_key}"},
            "summary": "an agency system reads its feed through its own durable consumer (sbt subscriber add)",
        }
    channels["webhook"] = {
        "address": None,
        "description": "A subscriber's webhook (POST /v1/subscriptions at notify): each event it matches is POSTed "
                       "as the same envelope, with the Standard Webhooks headers.",
        "servers": [{"$ref": "#/servers/webhooks"}],
        "messages": {key: {"$ref": f"#/components/messages/webhook_{key}"} for key in messages},
    }
    for key, message in list(messages.items()):
        webhook_messages[f"webhook_{key}"] = {**{k: v for k, v in message.items() if k != "headers"},
                                              "headers": {"$ref": "#/components/schemas/webhook_headers"}}
    schemas["webhook_headers"] = WEBHOOK_HEADERS
    operations["deliver_webhook"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/webhook"},
        "summary": "notify POSTs each matching event; a 2xx within 15 s is success, anything else is retried on "
                   "SBT_WEBHOOK_RETRY_SCHEDULE",
        "bindings": {"http": {"method": "POST"}},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "SBT case events",
            "version": "1.1.0",
            "description": "One JetStream stream (SBT_EVENTS) over sbt.events.>, subjects "
            "sbt.events.<producer>.<event>. Every message is a CloudEvents 1.0 envelope (JSON) with the "
            "producer's hash chain and Ed25519 signature; Nats-Msg-Id is the event id. Each message's payload "
            "schema is the whole envelope with its data. The notify service republishes every message unchanged "
            "on the agencies' feeds (stream SBT_FEEDS, sbt.feeds.<agency or NATIONAL>.<producer>.<event>) and "
            "POSTs it to webhooks (Standard Webhooks).",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "nats": {"host": "127.0.0.1:4322", "protocol": "nats", "description": "the embedded NATS of `make run`"},
            "webhooks": {"host": "subscriber.example", "protocol": "https",
                         "description": "each subscriber's own endpoint"},
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": {**messages, **webhook_messages}, "schemas": schemas},
    }


def generate() -> dict[str, str]:
    files: dict[str, str] = {"events/envelope.schema.json": _dump(envelope_schema()), "asyncapi.json": _dump(asyncapi())}
    for event_type in EVENT_MODELS:
        files[f"events/{event_type}.schema.json"] = _dump(event_schema(event_type))
    with tempfile.TemporaryDirectory() as scratch:
        settings = SystemSettings(env="test", data_dir=Path(scratch))
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
