"""Webhooks end to end: real services as processes, a real NATS, a real database, and a real HTTP receiver
on loopback that checks each delivery with the Standard Webhooks library's own verifier and each envelope
against its producer's pinned key."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook

from shared.events import Envelope
from shared.ledger.chain import authenticate
from tests.e2e.reports import report_body
from tests.harness import readme
from tests.harness.ports import eventually, free_port, port_open
from tests.harness.signing import fixed_producer_keys
from tests.harness.webhook_receiver import Received, WebhookReceiver

pytestmark = pytest.mark.e2e

JABAR, BANDUNG = "PEMPROV-JABAR", "KOTA-BANDUNG"
LOOPBACK = {"SBT_WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}


def verified(received: Received, secret: str) -> Envelope:
    """The delivery checked as a receiver would: its Standard Webhooks signature, then its producer's."""
    document = Webhook(secret).verify(received.body, received.headers)
    envelope = Envelope.model_validate(document)
    assert authenticate(envelope, fixed_producer_keys()) is None
    assert received.headers["webhook-id"] == envelope.id
    return envelope


async def subscribe(system, token: str, url: str, **filters) -> dict:  # noqa: ANN001, ANN003
    async with system.client("notify", token) as client:
        answer = await client.post("/v1/subscriptions", json={"url": url, **filters})
    assert answer.status_code == 201, answer.text
    return answer.json()


async def file_report(system, **overrides) -> dict:  # noqa: ANN001, ANN003
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        answer = await client.post("/v1/reports", json=report_body(**overrides))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_a_report_reaches_its_agencys_webhook_within_a_second_signed_and_no_other_agencys(make_system):
    system = await make_system("intake", "notify", extra_env=LOOPBACK)
    own_ppk = system.token(JABAR, "ppk", ppk_agency=JABAR)
    other_ppk = system.token(BANDUNG, "ppk", ppk_agency=BANDUNG)
    with WebhookReceiver() as own, WebhookReceiver() as other, WebhookReceiver() as national:
        mine = await subscribe(system, own_ppk, own.url)
        assert mine["secret"].startswith("whsec_") and mine["scope_agency"] == JABAR
        theirs = await subscribe(system, other_ppk, other.url)
        everyone = await subscribe(system, system.token("BKN", "observer"), national.url,
                                   event_types=["sbt.case.opened.v1"], election_codes=["PILKADA-2024"])
        # A PPK may not widen its scope by a filter.
        async with system.client("notify", own_ppk) as client:
            widened = await client.post("/v1/subscriptions", json={"url": own.url, "agency_codes": [BANDUNG]})
        assert widened.status_code == 422 and widened.json()["errors"][0]["field"] == "agency_codes.0"
        # Nor take an event type its roles may not read (an escalation needs escalation:read).
        async with system.client("notify", own_ppk) as client:
            unreadable = await client.post("/v1/subscriptions", json={
                "url": own.url, "event_types": ["sbt.report.received.v1", "sbt.escalation.raised.v1"]})
        assert unreadable.status_code == 422 and unreadable.json()["errors"][0]["field"] == "event_types.1"

        report = await file_report(system, agency_code=JABAR)
        filed = time.monotonic()
        arrived = await eventually(lambda: _async(own.of_type("sbt.report.received.v1")), 5, "the report's webhook")
        assert arrived[0].at - filed < 1.0, f"took {arrived[0].at - filed:.2f} s"
        envelope = verified(arrived[0], mine["secret"])
        assert envelope.data["case_id"] == report["case_id"] and envelope.data["agency_code"] == JABAR
        opened = await eventually(lambda: _async(national.of_type("sbt.case.opened.v1")), 5, "the national webhook")
        verified(opened[0], everyone["secret"])
        await eventually(lambda: _async(own.of_type("sbt.case.opened.v1")), 5, "case opened to the agency")

        await file_report(system, agency_code=BANDUNG)  # the other agency's own case reaches it
        await eventually(lambda: _async(other.of_type("sbt.report.received.v1")), 5, "the other agency's webhook")
        await asyncio.sleep(0.5)
        cases = {json.loads(r.body)["data"].get("case_id") for r in other.received}
        assert report["case_id"] not in cases  # never another agency's civil servant
        assert len(national.received) == 2 and not national.of_type("sbt.report.received.v1")

        async with system.client("notify", own_ppk) as client:
            log = (await client.get(f"/v1/subscriptions/{mine['subscription_id']}/deliveries")).json()
            assert log["total"] == 2 and all(d["state"] == "delivered" for d in log["deliveries"])
            attempt = log["deliveries"][0]["attempts"][0]
            assert attempt["status_code"] == 200 and attempt["latency_ms"] >= 0 and attempt["error"] is None
            # Another agency's caller does not see the subscription at all.
        async with system.client("notify", other_ppk) as client:
            assert (await client.get(f"/v1/subscriptions/{mine['subscription_id']}")).status_code == 404
            listed = (await client.get("/v1/subscriptions")).json()
            assert [s["subscription_id"] for s in listed["subscriptions"]] == [theirs["subscription_id"]]


async def test_a_receiver_failing_three_times_gets_the_delivery_on_the_fourth_attempt_and_the_log_shows_all_four(
        make_system):
    system = await make_system("intake", "notify", extra_env={**LOOPBACK, "SBT_WEBHOOK_RETRY_SCHEDULE": "0,0.5,0.5,0.5,0.5"})
    token = system.token("BKN", "observer")
    with WebhookReceiver([503, 500, 503]) as receiver:
        subscription = await subscribe(system, token, receiver.url, event_types=["sbt.report.received.v1"])
        await file_report(system)
        await eventually(lambda: _async(receiver.succeeded()), 10, "the fourth attempt")
        assert [r.answered for r in receiver.received] == [503, 500, 503, 200]
        assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # one message, four attempts
        for received in receiver.received:
            verified(received, subscription["secret"])
        async with system.client("notify", token) as client:
            log = (await client.get(f"/v1/subscriptions/{subscription['subscription_id']}/deliveries")).json()
        (delivery,) = log["deliveries"]
        assert delivery["state"] == "delivered"
        assert [a["status_code"] for a in delivery["attempts"]] == [503, 500, 503, 200]
        assert [a["success"] for a in delivery["attempts"]] == [False, False, False, True]
        assert delivery["attempts"][0]["error"] == "HTTP 503" and len(delivery["attempts"][0]["response_excerpt"]) <= 200
        times = [a["attempted_at"] for a in delivery["attempts"]]
        assert times == sorted(times)

        # By hand: the same delivery again, and a replay of the stream from its position.
        async with system.client("notify", token) as client:
            path = f"/v1/subscriptions/{subscription['subscription_id']}"
            again = await client.post(f"{path}/deliveries/{delivery['delivery_id']}/redeliver")
            assert again.status_code == 200 and again.json()["state"] == "pending"
            await eventually(lambda: _async(len(receiver.succeeded()) == 2), 5, "the redelivery")
            replayed = await client.post(f"{path}/replay", json={"from_stream_seq": 1})
            assert replayed.status_code == 200 and replayed.json()["queued"] == 1
            await eventually(lambda: _async(len(receiver.succeeded()) == 3), 5, "the replay")
            reversed_range = await client.post(f"{path}/replay", json={"from_stream_seq": 5, "to_stream_seq": 2})
            assert reversed_range.status_code == 422 and reversed_range.json()["errors"][0]["field"] == "to_stream_seq"


async def test_a_delivery_survives_a_kill_9_of_notify_mid_retry_and_arrives_once(make_system):
    system = await make_system("intake", "notify", extra_env={**LOOPBACK, "SBT_WEBHOOK_RETRY_SCHEDULE": "0,3,3,3"})
    token = system.token("BKN", "observer")
    with WebhookReceiver([503]) as receiver:
        subscription = await subscribe(system, token, receiver.url, event_types=["sbt.report.received.v1"])
        await file_report(system)
        await eventually(lambda: _async(receiver.received), 5, "the first attempt")
        await eventually(lambda: system.scalar(
            "notify", "SELECT count(*) FROM delivery_attempts WHERE subscription_id = :s",
            s=subscription["subscription_id"]), 5, "the failed attempt recorded")
        system["notify"].kill()  # kill -9 while the retry waits, 3 s away, in the database only
        await asyncio.sleep(0.5)
        assert len(receiver.received) == 1
        system["notify"].start()
        await eventually(lambda: _async(receiver.succeeded()), 15, "the retry after the restart")
        await asyncio.sleep(4)  # a second copy would come within a retry interval
        assert [r.answered for r in receiver.received] == [503, 200]
        verified(receiver.succeeded()[0], subscription["secret"])


async def test_rotating_the_secret_signs_with_both_during_the_overlap_and_a_dying_endpoint_is_disabled(make_system):
    system = await make_system("intake", "notify", "status", extra_env={
        **LOOPBACK, "SBT_WEBHOOK_RETRY_SCHEDULE": "0,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3",
        "SBT_WEBHOOK_DISABLE_AFTER_SECONDS": "1"})
    token = system.token("BKN", "observer")
    with WebhookReceiver() as healthy, WebhookReceiver(default=503) as dying:
        watched = await subscribe(system, token, healthy.url)
        async with system.client("notify", token) as client:
            rotated = (await client.post(f"/v1/subscriptions/{watched['subscription_id']}/secret")).json()
        assert rotated["secret"] != watched["secret"]
        failing = await subscribe(system, token, dying.url, event_types=["sbt.report.received.v1"])
        await file_report(system)
        first = (await eventually(lambda: _async(healthy.of_type("sbt.report.received.v1")), 5, "delivery"))[0]
        assert len(first.headers["webhook-signature"].split(" ")) == 2
        verified(first, watched["secret"])  # the old secret still verifies during the overlap
        verified(first, rotated["secret"])  # and so does the new one

        # The dying endpoint fails for longer than SBT_WEBHOOK_DISABLE_AFTER_SECONDS: disabled, and its
        # owner told by an event on the bus, which the healthy subscription receives, signed by notify.
        notice = (await eventually(lambda: _async(healthy.of_type("sbt.subscription.disabled.v1")), 15,
                                   "the disabled notice"))[0]
        envelope = verified(notice, rotated["secret"])
        assert envelope.source == "/sbt/notify" and envelope.data["subscription_id"] == failing["subscription_id"]
        # The status service logs notify's event like any other producer's: checked, never dead-lettered.
        await eventually(lambda: system.scalar("status", "SELECT count(*) FROM events WHERE event_id = :e",
                                               e=envelope.id), 10, "the notice in the status ledger")
        assert await system.scalar("status", "SELECT count(*) FROM dead_letters") == 0
        async with system.client("notify", token) as client:
            shown = (await client.get(f"/v1/subscriptions/{failing['subscription_id']}")).json()
            assert shown["state"] == "disabled" and "HTTP 503" in shown["disabled_reason"]
            tries = len(dying.received)
            await asyncio.sleep(1)
            assert len(dying.received) == tries  # nothing more is sent to a disabled endpoint
            assert (await client.post(f"/v1/subscriptions/{failing['subscription_id']}/pause")).status_code == 409
            resumed = await client.post(f"/v1/subscriptions/{failing['subscription_id']}/resume")
            assert resumed.status_code == 200 and resumed.json()["state"] == "active"
            paused = await client.post(f"/v1/subscriptions/{watched['subscription_id']}/pause")
            assert paused.json()["state"] == "paused"
            assert (await client.delete(f"/v1/subscriptions/{failing['subscription_id']}")).status_code == 204
            assert (await client.get(f"/v1/subscriptions/{failing['subscription_id']}")).status_code == 404


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://10.1.2.3/hook",  # private
    "http://127.0.0.2:8080/hook",  # loopback, not the listed 127.0.0.1
    "http://[::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",  # a private IPv4 address dressed as IPv6
    "ftp://example.org/hook",
    "http://user:pw@example.org/hook",
])
async def test_a_target_on_a_private_loopback_or_link_local_address_is_refused_at_subscribe_time(make_system, url):
    system = await make_system("notify", extra_env=LOOPBACK)
    async with system.client("notify", system.token("BKN", "observer")) as client:
        answer = await client.post("/v1/subscriptions", json={"url": url})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "url"


async def test_a_redirect_is_not_followed_and_counts_as_a_failure(make_system):
    system = await make_system("intake", "notify", extra_env={**LOOPBACK, "SBT_WEBHOOK_RETRY_SCHEDULE": "0"})
    token = system.token("BKN", "observer")
    with WebhookReceiver() as elsewhere:
        with WebhookReceiver(default=302, extra_headers={"location": elsewhere.url}) as redirecting:
            subscription = await subscribe(system, token, redirecting.url, event_types=["sbt.report.received.v1"])
            await file_report(system)
            await eventually(lambda: _async(redirecting.received), 5, "the attempt")
            async with system.client("notify", token) as client:
                log = await eventually(lambda: _failed(client, subscription["subscription_id"]), 5, "the failure")
            assert "not followed" in log["attempts"][0]["error"]
            assert elsewhere.received == []


async def _failed(client, subscription_id: str):  # noqa: ANN001, ANN202
    log = (await client.get(f"/v1/subscriptions/{subscription_id}/deliveries")).json()
    return next((d for d in log["deliveries"] if d["state"] == "failed"), None)


async def _async(value):  # noqa: ANN001, ANN202 - lets eventually() poll a plain value
    return value


async def test_the_readmes_webhook_receiver_checks_both_signatures_of_a_real_delivery(make_system, tmp_path):
    system = await make_system("intake", "notify", extra_env=LOOPBACK)
    token = system.token("BKN", "observer")
    port = free_port()
    subscription = await subscribe(system, token, f"http://127.0.0.1:{port}/", event_types=["sbt.case.opened.v1"])
    readme.write_keys(tmp_path)
    receiver = readme.start(readme.python_block_after("A receiver in 20 lines"), tmp_path,
                            {**system.env, "PORT": str(port), "WEBHOOK_SECRET": subscription["secret"]})
    try:
        await eventually(lambda: _async(port_open(port)), 10, "the README's receiver listening")
        case_id = (await file_report(system))["case_id"]
        async with system.client("notify", token) as client:
            await eventually(lambda: _delivered(client, subscription["subscription_id"]), 10, "the delivery")
    finally:
        receiver.terminate()
        output = receiver.communicate(timeout=10)[0]
    printed = [line for line in output.splitlines() if not line.startswith("127.0.0.1 - -")]  # the access log
    assert printed == [f"sbt.case.opened.v1 {case_id}"], output


async def _delivered(client, subscription_id: str):  # noqa: ANN001, ANN202
    log = (await client.get(f"/v1/subscriptions/{subscription_id}/deliveries")).json()
    return any(d["state"] == "delivered" for d in log["deliveries"])
