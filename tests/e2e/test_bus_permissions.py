"""The bus enforces its own rules: each service is a NATS user that may publish only its own events and
touch only the consumers it owns by name, proven against a real nats-server."""

from __future__ import annotations

import asyncio

import nats
import nats.errors
import nats.js.errors
import orjson
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shared.events import EVENT_MODELS, nats_subject
from shared.events.blocking import PersonnelBlocked
from shared.nats_permissions import inbox_prefix, service_users
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

STREAM = "SBT_EVENTS"


async def _connect_as(system, user: str, errors: list):
    async def on_error(error):  # noqa: ANN001
        errors.append(str(error))

    return await nats.connect(
        system.nats.url, user=user, password=system.nats_passwords[user], inbox_prefix=inbox_prefix(user),
        error_cb=on_error, allow_reconnect=False,
    )


async def _stream_count(system, subject: str) -> int:
    connection = await nats.connect(system.nats.url)  # the test-only ops user
    try:
        info = await connection.jetstream().stream_info("SBT_EVENTS", subjects_filter=subject)
        return sum((info.state.subjects or {}).values())
    finally:
        await connection.close()


async def test_a_service_user_cannot_publish_another_services_event_and_the_normal_flow_works(make_system):
    system = await make_system("intake", "status")
    nip = random_nip()
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        assert (await client.post("/v1/reports", json=report_body(nip))).status_code == 201

    async def arrived():
        async with system.client("status", system.token("BKN", "observer")) as client:
            status = (await client.get(f"/v1/asn/{nip}/status")).json()
            return status["cases"] and status["cases"][0]["report_count"] == 1

    await eventually(arrived, 15, "the report reached the status service through the permissioned bus")

    errors: list[str] = []
    intake = await _connect_as(system, "intake", errors)
    try:
        js = intake.jetstream(timeout=2)
        forged_subject = nats_subject(PersonnelBlocked)  # sbt.events.blocking....
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError, asyncio.TimeoutError)):
            await js.publish(forged_subject, b'{"forged": true}', headers={"Nats-Msg-Id": "forged-1"})
        # Under its own prefix the server accepts and stores (a subject no consumer reads).
        ack = await js.publish("sbt.events.intake.probe", b"{}", headers={"Nats-Msg-Id": "own-1"})
        assert ack.stream == "SBT_EVENTS"
        # It may not read the event subjects directly, nor another service's inbox.
        await intake.subscribe("sbt.events.>")
        await intake.subscribe("_INBOX_status.>")
        await intake.flush()

        async def refused() -> bool:  # the server's -ERR for a subscription arrives asynchronously
            joined = " ".join(errors).lower()
            return joined.count("permissions violation for subscription") >= 2

        await eventually(refused, 5, "both subscriptions refused")
    finally:
        await intake.close()
    joined = " ".join(errors).lower()
    assert "permissions violation for publish" in joined and "sbt.events.blocking" in joined
    assert await _stream_count(system, "sbt.events.blocking.>") == 0

    # A wrong password is refused outright.
    with pytest.raises(Exception, match="(?i)authorization"):
        await nats.connect(system.nats.url, user="intake", password="wrong", allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=2)


# A refused request gets no answer: the server drops it and reports the violation to the sender alone.
REFUSED_WITHIN = 1.5


def _consumer_config(name: str, filter_subject: str) -> bytes:
    return orjson.dumps({"stream_name": STREAM, "config": {
        "name": name, "durable_name": name, "filter_subject": filter_subject, "ack_policy": "explicit",
        "deliver_policy": "all"}})


def _forbidden_requests(user: str) -> list[tuple[str, bytes]]:
    """Every JetStream API request ``user`` must not make: on other services' consumers, on its own beyond
    create, info, pull and ack, and on the stream beyond info and create."""
    api = "$JS.API"
    own_filter = f"sbt.events.{user}.>"
    requests = [
        (f"{api}.CONSUMER.CREATE.{STREAM}", orjson.dumps({"stream_name": STREAM, "config": {}})),  # ephemeral
        (f"{api}.CONSUMER.DELETE.{STREAM}.{user}", b""),
        (f"{api}.CONSUMER.LIST.{STREAM}", b"{}"), (f"{api}.CONSUMER.NAMES.{STREAM}", b"{}"),
        (f"{api}.STREAM.DELETE.{STREAM}", b""), (f"{api}.STREAM.PURGE.{STREAM}", b"{}"),
        (f"{api}.STREAM.UPDATE.{STREAM}", orjson.dumps({"name": STREAM, "subjects": [own_filter]})),
        (f"{api}.STREAM.MSG.GET.{STREAM}", b'{"seq": 1}'), (f"{api}.STREAM.MSG.DELETE.{STREAM}", b'{"seq": 1}'),
        (f"{api}.DIRECT.GET.{STREAM}", b'{"seq": 1}'), (f"{api}.DIRECT.GET.{STREAM}.sbt.events.status.x", b""),
        (f"{api}.STREAM.SNAPSHOT.{STREAM}", b"{}"), (f"{api}.STREAM.NAMES", b"{}"), (f"{api}.STREAM.LIST", b"{}"),
        (f"{api}.STREAM.CREATE.OTHER", orjson.dumps({"name": "OTHER", "subjects": ["other.>"]})),
        (f"{api}.INFO", b""),
    ]
    for other in [name for name in service_users() if name != user]:
        requests += [
            (f"{api}.CONSUMER.CREATE.{STREAM}.{other}", _consumer_config(other, own_filter)),
            (f"{api}.CONSUMER.CREATE.{STREAM}.{other}.{own_filter}", _consumer_config(other, own_filter)),
            (f"{api}.CONSUMER.DURABLE.CREATE.{STREAM}.{other}", _consumer_config(other, own_filter)),
            (f"{api}.CONSUMER.DELETE.{STREAM}.{other}", b""),
            (f"{api}.CONSUMER.INFO.{STREAM}.{other}", b""),
            (f"{api}.CONSUMER.MSG.NEXT.{STREAM}.{other}", b'{"batch": 1, "expires": 500000000}'),
            (f"{api}.CONSUMER.PAUSE.{STREAM}.{other}", b"{}"),
            (f"{api}.CONSUMER.LEADER.STEPDOWN.{STREAM}.{other}", b""),
        ]
    return requests


def _forbidden_publications(user: str) -> list[str]:
    """Acks of others' consumers and every other producer's event subjects (plain publishes, no answer)."""
    subjects = [f"$JS.ACK.{STREAM}.{other}.1.1.1.1.0" for other in service_users() if other != user]
    return subjects + [nats_subject(model) for model in EVENT_MODELS.values() if model.producer != user]


async def _no_answer(connection, subject: str, body: bytes) -> bool:  # noqa: ANN001
    try:
        await connection.request(subject, body, timeout=REFUSED_WITHIN)
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
        return True
    return False


async def _try_everything_forbidden(system, user: str) -> None:
    errors: list[str] = []
    connection = await _connect_as(system, user, errors)
    try:
        # What the service needs still gets an answer (the consumer may not exist: an answer all the same).
        for subject in (f"$JS.API.STREAM.INFO.{STREAM}", f"$JS.API.CONSUMER.INFO.{STREAM}.{user}"):
            reply = await connection.request(subject, b"", timeout=5)
            assert b"io.nats.jetstream.api.v1" in reply.data, (user, subject)

        requests = _forbidden_requests(user)
        answered = await asyncio.gather(*(_no_answer(connection, s, body) for s, body in requests))
        assert [s for (s, _), refused in zip(requests, answered, strict=True) if not refused] == [], user
        publications = _forbidden_publications(user)
        for subject in publications:
            await connection.publish(subject, b'{"forged": true}')
        # Nor may it listen to the whole stream's subjects, others' events, others' inboxes or any acks.
        subscriptions = ["sbt.events.>", "$JS.ACK.>", "$JS.API.>"]
        for other in [name for name in service_users() if name != user]:
            subscriptions += [f"sbt.events.{other}.>", f"{inbox_prefix(other)}.>"]
        for subject in subscriptions:
            await connection.subscribe(subject)
        await connection.flush()

        expected = {f'permissions violation for publish to "{s}"'.lower() for s, _ in requests}
        expected |= {f'permissions violation for publish to "{s}"'.lower() for s in publications}
        expected |= {f'permissions violation for subscription to "{s}"'.lower() for s in subscriptions}

        async def all_reported() -> bool:  # the server's -ERR arrives asynchronously
            reported = " ".join(errors).lower()
            return all(line in reported for line in expected)

        await eventually(all_reported, 5, f"the server reported every refusal to {user}")
    finally:
        await connection.close()


async def test_no_service_user_may_touch_another_services_consumer_or_administer_the_stream(make_system):
    system = await make_system("status", "blocking")
    ops = await nats.connect(system.nats.url)  # the test-only ops user
    try:
        js = ops.jetstream(timeout=5)

        async def status_consumer():
            return await js.consumer_info(STREAM, "status")

        async def status_consumer_exists():
            try:
                return await status_consumer()
            except nats.js.errors.NotFoundError:
                return None

        await eventually(status_consumer_exists, 15, "the status durable exists")
        before = (await status_consumer()).config
        assert "sbt.events.blocking.personnel.>" not in (before.filter_subjects or [])

        # The exact attack: the blocking user create-or-updates the status durable onto its own subjects,
        # by every subject a create can take...
        errors: list[str] = []
        blocking = await _connect_as(system, "blocking", errors)
        try:
            attack = ConsumerConfig(name="status", durable_name="status", ack_policy=AckPolicy.EXPLICIT,
                                    deliver_policy=DeliverPolicy.ALL, filter_subject="sbt.events.blocking.personnel.>")
            blocking_js = blocking.jetstream(timeout=REFUSED_WITHIN)
            with pytest.raises((nats.errors.TimeoutError, asyncio.TimeoutError)):
                await blocking_js.add_consumer(STREAM, config=attack)  # CONSUMER.CREATE.<stream>.status.<filter>
            with pytest.raises((nats.errors.TimeoutError, asyncio.TimeoutError)):
                await blocking_js.add_consumer(STREAM, config=ConsumerConfig(
                    name="status", durable_name="status", ack_policy=AckPolicy.EXPLICIT,
                    filter_subjects=["sbt.events.blocking.personnel.>"]))  # CONSUMER.CREATE.<stream>.status
            # ... and under its own consumer's subject with the status name in the body: the server refuses
            # a body naming another consumer than the subject does.
            reply = await blocking.request(f"$JS.API.CONSUMER.CREATE.{STREAM}.blocking",
                                           _consumer_config("status", "sbt.events.blocking.personnel.>"), timeout=5)
            assert orjson.loads(reply.data).get("error"), reply.data
        finally:
            await blocking.close()
        after = (await status_consumer()).config
        assert after.filter_subjects == before.filter_subjects and after.filter_subject == before.filter_subject

        # Every service user, every forbidden action, side by side.
        await asyncio.gather(*(_try_everything_forbidden(system, user) for user in service_users()))
        assert (await status_consumer()).config.filter_subjects == before.filter_subjects
        assert {info.name for info in await js.consumers_info(STREAM)} >= {"status", "blocking"}
        assert await _stream_count(system, "sbt.events.>") == (await js.stream_info(STREAM)).state.messages

        # The same request shapes do get answers from the server when permitted (the ops user).
        for subject in (f"$JS.API.CONSUMER.INFO.{STREAM}.status", f"$JS.API.CONSUMER.NAMES.{STREAM}"):
            assert b"error" not in (await ops.request(subject, b"{}", timeout=5)).data, subject
    finally:
        await ops.close()
