"""The bus enforces its own rules: each service is a NATS user that may publish only its own events."""

from __future__ import annotations

import asyncio

import nats
import nats.errors
import pytest

from shared.events import nats_subject
from shared.events.blocking import PersonnelBlocked
from shared.nats_permissions import inbox_prefix
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e


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
