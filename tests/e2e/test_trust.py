"""Trust, end to end: the reporter's identity stays confidential and erasable, nothing leaks it, the public
endpoints hold under a burst, and every request is attributable in the access log."""

from __future__ import annotations

import asyncio

import httpx
import nats
import orjson
import pytest

from shared.events import GENESIS_HASH, Envelope
from tests.e2e.access_log import logged_entries
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

# Distinctive enough that finding it anywhere is a leak, not a coincidence.
NAME = "Quokkaberg Zainuddin"
CONTACT = "quokka-7731@saksi.example"
LEAK_MARKERS = ("Quokkaberg", "quokka-7731")


async def _stream_messages(system) -> list[bytes]:
    """Every message of the stream, read as the (test-only) ops user."""
    connection = await nats.connect(system.nats.url)
    try:
        js = connection.jetstream()
        info = await js.stream_info("SBT_EVENTS")
        payloads = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                payloads.append((await js.get_msg("SBT_EVENTS", seq)).data)
            except nats.js.errors.NotFoundError:
                continue
        return payloads
    finally:
        await connection.close()


def _assert_no_leak(text: str, where: str) -> None:
    for marker in LEAK_MARKERS:
        assert marker not in text, f"the reporter's identity leaked into {where}"


async def test_the_reporter_identity_is_sealed_shown_to_verifiers_only_erasable_and_never_leaks(make_system):
    system = await make_system("intake", "status")
    nip = random_nip()
    reporter = {"category": "bawaslu", "name": NAME, "contact": CONTACT}
    responses: list[httpx.Response] = []
    async with system.client("intake", system.token("BAWASLU", "reporter")) as bawaslu:
        filed = await bawaslu.post("/v1/reports", json=report_body(nip, reporter=reporter))
        assert filed.status_code == 201, filed.text
        report_id, case_id = filed.json()["report_id"], filed.json()["case_id"]
        # Bad input that carries the identity: the error body names the field, never echoes the value.
        responses.append(await bawaslu.post("/v1/reports", json=report_body(
            nip, reporter={**reporter, "name": NAME * 20})))
        responses.append(await bawaslu.post("/v1/reports", json=report_body(
            "1234", reporter=reporter)))
        responses.append(await bawaslu.post("/v1/reports", json={**report_body(nip, reporter=reporter), "x": NAME}))
        assert [r.status_code for r in responses] == [422, 422, 422]
        responses.append(await bawaslu.get(f"/v1/reports/{report_id}"))
    async with system.client("intake") as anyone:
        public = await anyone.post("/v1/public/reports", json=report_body(
            nip, reporter={"name": NAME, "contact": CONTACT}))
        assert public.status_code == 201, public.text
        responses.append(public)
        # The number and its signed receipt (number, time, a hash of the filing): nothing about the case.
        assert set(public.json()) == {"complaint_number", "receipt"}
        assert set(public.json()["receipt"]) == {"version", "complaint_number", "received_at", "filed_sha256",
                                                 "issuer", "keyid", "signature"}

    # In the database only sealed: no column holds the name in clear.
    assert NAME not in str(await system.scalar("intake", "SELECT reporter_identity_sealed FROM reports "
                                               "WHERE id = :id", id=report_id))

    async def view(agency: str, *roles: str) -> httpx.Response:
        async with system.client("intake", system.token(agency, *roles)) as client:
            return await client.get(f"/v1/reports/{report_id}")

    verifier = (await view("KASN", "verifier")).json()
    assert verifier["reporter_identity"] == "shown"
    assert verifier["reporter"] == {"name": NAME, "contact": CONTACT}
    for agency, role in [("BAWASLU", "reporter"), ("BKN", "examiner")]:
        seen = await view(agency, role)
        assert seen.status_code == 200 and seen.json()["reporter_identity"] == "withheld"
        assert seen.json()["reporter"] is None
        responses.append(seen)
    assert (await view("KEMENDAGRI", "reporter")).status_code == 404  # not its report
    for role in ("observer", "ppk", "blocker"):
        assert (await view("BKN", role)).status_code == 403

    # The read side and the bus carry neither the name nor the contact.
    async def timeline():
        async with system.client("status", system.token("BKN", "observer")) as client:
            body = (await client.get(f"/v1/cases/{case_id}/timeline")).json()
            return body if len(body.get("events", [])) >= 3 else None

    before_erasure = await eventually(timeline, 15, "three events in the timeline")
    async with system.client("status", system.token("BKN", "observer")) as client:
        responses.append(await client.get(f"/v1/asn/{nip}/status"))
        responses.append(await client.get(f"/v1/cases/{case_id}/timeline"))
        responses.append(await client.get("/v1/asn/123/status"))
    messages = await _stream_messages(system)
    assert len(messages) >= 3
    for payload in messages:
        _assert_no_leak(payload.decode(errors="replace"), "a NATS message")
    received = [orjson.loads(m) for m in messages if b"report.received" in m]
    assert received and all(event["data"].get("reporter_identity_sealed") is None for event in received)

    # Erasure destroys the key: nobody can read it again, the case and its audit trail stay intact.
    async with system.client("intake", system.token("BKN", "verifier")) as verifier_client:
        assert (await verifier_client.delete(f"/v1/reports/{report_id}/reporter-identity")).status_code == 403
    async with system.client("intake", system.token("SBT", "admin")) as admin:
        assert (await admin.delete(f"/v1/reports/{report_id}/reporter-identity")).status_code == 204
        assert (await admin.delete(f"/v1/reports/{report_id}/reporter-identity")).status_code == 204
        after = (await admin.get(f"/v1/reports/{report_id}")).json()
    assert after["reporter_identity"] == "erased" and after["reporter"] is None
    assert after["case_id"] == case_id and after["nip"] == nip
    assert await system.scalar("intake", "SELECT count(*) FROM reporter_identity_keys WHERE report_id = :id",
                               id=report_id) == 0
    after_erasure = await timeline()
    assert after_erasure["events"] == before_erasure["events"]
    # The log itself still verifies: every event's hash, and each producer's chain link by link.
    heads: dict[str, str] = {}
    for payload in await _stream_messages(system):
        envelope = Envelope.model_validate(orjson.loads(payload))
        assert envelope.hash_is_valid(), f"event {envelope.id} no longer verifies"
        assert envelope.prevhash == heads.get(envelope.producer, GENESIS_HASH)
        heads[envelope.producer] = envelope.hash

    # Finally, no log line of any service, nor the NATS server's, nor any response carries it.
    for name in ("intake", "status"):
        _assert_no_leak(system[name].log_text(), f"the {name} log")
    _assert_no_leak(system.nats.log.read_text(errors="replace"), "the NATS server log")
    for response in responses:
        if response.request.url.path.endswith(report_id) and response.json().get("reporter_identity") == "shown":
            continue
        _assert_no_leak(response.text, f"the response to {response.request.method} {response.request.url.path}")


async def test_public_endpoints_hold_under_a_burst_and_every_request_is_in_the_access_log(make_system):
    system = await make_system("intake", "status", extra_env={
        "SBT_PUBLIC_BURST": "5", "SBT_PUBLIC_RATE_PER_MINUTE": "6",
    })
    nip = random_nip()
    async with system.client("intake") as anyone:
        filed = await anyone.post("/v1/public/reports", json=report_body(
            nip, reporter={"name": NAME, "category": "public"}))
        assert filed.status_code == 201, filed.text
        number = filed.json()["complaint_number"]
        forced = await anyone.post("/v1/public/reports", json=report_body(nip, reporter={"category": "bawaslu"}))
        assert forced.status_code == 422 and forced.json()["errors"][0]["field"] == "reporter.category"
        check = await anyone.get(f"/v1/public/complaints/{number}")
        assert check.status_code == 200 and check.json() == {"stage": "awaiting_verification"}
        assert (await anyone.get("/v1/public/complaints/SBT-2024-0000-0000-0000")).status_code == 404

        # A burst from one address: the first few pass, the rest get 429 with Retry-After.
        burst = await asyncio.gather(*[anyone.get(f"/v1/public/complaints/{number}") for _ in range(40)])
    codes = [r.status_code for r in burst]
    assert set(codes) <= {200, 429} and codes.count(429) >= 35
    refused = next(r for r in burst if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["content-type"].startswith("application/problem+json")

    # Nobody else degrades: another address still gets its answer, and the token-holding agencies work.
    async with httpx.AsyncClient(base_url=system["intake"].url, timeout=10,
                                 transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")) as neighbour:
        assert (await neighbour.get(f"/v1/public/complaints/{number}")).status_code == 200
    async with system.client("intake", system.token("BAWASLU", "reporter", client_id="bawaslu-case-system")) as c:
        filed = await asyncio.gather(*[c.post("/v1/reports", json=report_body(nip)) for _ in range(10)])
    assert [r.status_code for r in filed] == [201] * 10

    async def folded():
        async with system.client("status", system.token("BKN", "observer")) as client:
            status = (await client.get(f"/v1/asn/{nip}/status")).json()
            return status["cases"] and status["cases"][0]["report_count"] == 11

    await eventually(folded, 15, "all reports folded in the status")

    # The access log says who did what, when and from where; admins only.
    async with system.client("intake", system.token("BKN", "observer")) as observer:
        assert (await observer.get("/v1/ops/access-log")).status_code == 403
    async with system.client("intake", system.token("SBT", "admin", client_id="sbt-ops")) as admin:
        entries = await logged_entries(
            admin, lambda found: any(e["route"] == "/v1/ops/access-log" and e["status"] == 403 for e in found),
            what="the refused read in the access log")
        filed_entries = await logged_entries(admin, lambda found: len(found) >= 10, what="ten filings logged",
                                             client_id="bawaslu-case-system")
    assert len(filed_entries) == 10
    assert all(e["method"] == "POST" and e["route"] == "/v1/reports" and e["status"] == 201
               and e["agency"] == "BAWASLU" and e["roles"] == ["reporter"] and e["client_ip"] == "127.0.0.1"
               and e["trace_id"] for e in filed_entries)
    public_checks = [e for e in entries if e["route"] == "/v1/public/complaints/{number}"]
    assert {e["status"] for e in public_checks} == {200, 404, 429}
    assert {e["client_ip"] for e in public_checks} == {"127.0.0.1", "127.0.0.2"}
    assert all(e["client_id"] == "public" for e in public_checks)
    refused_reads = [e for e in entries if e["route"] == "/v1/ops/access-log" and e["status"] == 403]
    assert refused_reads and refused_reads[0]["roles"] == ["observer"]
    # The route template is logged, never the path: no complaint number, no NIP.
    assert number not in orjson.dumps(entries).decode() and nip not in orjson.dumps(entries).decode()
    _assert_no_leak(system["intake"].log_text(), "the intake log")


async def test_behind_the_gateway_limits_and_logs_apply_to_the_forwarded_client_and_only_a_trusted_proxy_is_believed(
        make_system):
    # The gateway is 127.0.0.1 here (trusted by SBT_FORWARDED_ALLOW_IPS, as a deployment sets it); 127.0.0.2
    # is anyone else.
    system = await make_system("intake", extra_env={"SBT_PUBLIC_BURST": "3", "SBT_PUBLIC_RATE_PER_MINUTE": "1",
                                                    "SBT_FORWARDED_ALLOW_IPS": "127.0.0.1"})
    missing = "/v1/public/complaints/SBT-2024-0000-0000-0000"

    async def burst(client: httpx.AsyncClient, forwarded_for: str) -> list[int]:
        answers = [await client.get(missing, headers={"X-Forwarded-For": forwarded_for}) for _ in range(5)]
        return [r.status_code for r in answers]

    async with system.client("intake") as gateway:
        # Two clients behind the gateway have a budget each: one exhausting its own leaves the other's.
        assert await burst(gateway, "203.0.113.7") == [404, 404, 404, 429, 429]
        assert await burst(gateway, "203.0.113.8") == [404, 404, 404, 429, 429]
    async with httpx.AsyncClient(base_url=system["intake"].url, timeout=10,
                                 transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")) as stranger:
        # Anyone else claiming a fresh address is not believed: its own address counts, whatever it claims.
        codes = [(await stranger.get(missing, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
                 for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]

    async with system.client("intake", system.token("SBT", "admin")) as admin:
        entries = await logged_entries(
            admin, lambda found: sum(e["route"] == "/v1/public/complaints/{number}" for e in found) >= 15,
            what="the fifteen complaint checks in the access log")
    seen = {e["client_ip"] for e in entries if e["route"] == "/v1/public/complaints/{number}"}
    assert seen == {"203.0.113.7", "203.0.113.8", "127.0.0.2"}
