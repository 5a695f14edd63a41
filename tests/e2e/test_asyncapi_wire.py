"""The AsyncAPI document describes the messages on the wire: every real message read from the stream (and
from the agencies' feeds) validates against the payload schema of its channel's message, found in the
checked-in document the way a tool driven by it finds it, and a message changed in transit does not."""

from __future__ import annotations

import json

import jsonschema
import nats
import nats.js.errors
import orjson
import pytest
from nats.js.api import DeliverPolicy

from services.cli.contracts import CONTRACTS_DIR
from tests.e2e.reports import random_nip, report_body
from tests.harness.cases import record_clarification
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

DOCUMENT = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target: object = DOCUMENT
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _payload_schemas(subject: str) -> list[dict]:
    """The payload schemas of the channel whose address matches ``subject`` (a feed's {feed} matching one
    token), as a tool reads them: channel -> message -> payload."""
    found = []
    for channel in DOCUMENT["channels"].values():
        address = channel.get("address")
        if not address:
            continue
        pattern, tokens = address.split("."), subject.split(".")
        if len(pattern) == len(tokens) and all(p == t or (p.startswith("{") and p.endswith("}"))
                                               for p, t in zip(pattern, tokens, strict=True)):
            found += [_resolve(_resolve(message)["payload"]) for message in channel["messages"].values()]
    return found


async def _all_messages(url: str, stream: str) -> list:
    connection = await nats.connect(url)  # the test-only ops user
    try:
        js = connection.jetstream(timeout=5)
        total = (await js.stream_info(stream)).state.messages
        subscription = await js.subscribe(">", stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        messages = [await subscription.next_msg(timeout=5) for _ in range(total)]
        await subscription.unsubscribe()
        return messages
    finally:
        await connection.close()


async def test_every_real_message_on_the_stream_and_the_feeds_validates_against_the_asyncapi_payload_schemas(
        make_system):
    system = await make_system("intake", "recommendation", "notify")
    nip = random_nip()
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        case_id = (await client.post("/v1/reports", json=report_body(nip))).json()["case_id"]

    async def known():
        async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
            return (await client.get(f"/v1/cases/{case_id}")).status_code == 200

    await eventually(known, 15, "the case known to recommendation")
    async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
        verified = await client.post(f"/v1/cases/{case_id}/verification",
                                     json={"outcome": "accepted", "reason": "Bukti cukup untuk diperiksa."})
        assert verified.status_code in (200, 201), verified.text
    await record_clarification(system, case_id)
    async with system.client("recommendation", system.token("BKN", "examiner")) as client:
        examined = await client.post(f"/v1/cases/{case_id}/examination", json={
            "outcome": "proven", "category": "ethics", "sanction_level": "moral_open",
            "legal_basis": "PP 42/2004 pasal 11", "reason": "Terbukti."})
        assert examined.status_code in (200, 201), examined.text

    async def feeds_caught_up():
        connection = await nats.connect(system.nats.url)
        try:
            events = (await connection.jetstream().stream_info("SBT_EVENTS")).state.messages
            try:
                feeds = (await connection.jetstream().stream_info("SBT_FEEDS")).state.messages
            except nats.js.errors.NotFoundError:
                return False
            # Each on its agency's feed, the national one and its regional office's (Kanreg III: Jawa Barat).
            return events >= 5 and feeds == 3 * events
        finally:
            await connection.close()

    await eventually(feeds_caught_up, 20, "every event on the feeds")
    checked: set[str] = set()
    for stream in ("SBT_EVENTS", "SBT_FEEDS"):
        for message in await _all_messages(system.nats.url, stream):
            document = orjson.loads(message.data)
            schemas = _payload_schemas(message.subject)
            assert schemas, f"no AsyncAPI channel for {message.subject}"
            if not any(jsonschema.Draft202012Validator(s).is_valid(document) for s in schemas):
                error = next(jsonschema.Draft202012Validator(schemas[0]).iter_errors(document))
                pytest.fail(f"{message.subject}: {error.message} at {list(error.absolute_path)}")
            checked.add(document["type"])
            # The schema is not vacuous: the same message changed in transit is refused.
            for tampered in ({**document, "signature": None}, {k: v for k, v in document.items() if k != "hash"},
                             {**document, "type": "sbt.case.opened.v9"}, {**document, "extra": 1},
                             {**document, "data": {**document["data"], "unexpected": True}}):
                assert not any(jsonschema.Draft202012Validator(s).is_valid(tampered) for s in schemas)
    assert {"sbt.report.received.v1", "sbt.case.opened.v1", "sbt.case.verification_decided.v1",
            "sbt.case.examined.v1", "sbt.recommendation.issued.v1"} <= checked
