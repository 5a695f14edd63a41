"""The spine, end to end: REST intake -> outbox -> NATS JetStream -> status, on real parts."""

from __future__ import annotations

import nats
import orjson
import pytest

from shared.events import GENESIS_HASH, Envelope, nats_subject
from shared.events.intake import ReportReceived
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually
from tests.harness.signing import producer_key

pytestmark = pytest.mark.e2e


async def _status(system, nip: str) -> dict:
    async with system.client("status", system.token("BKN", "observer")) as client:
        response = await client.get(f"/v1/asn/{nip}/status")
        assert response.status_code == 200, response.text
        return response.json()


async def _file(system, body: dict, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        return await client.post("/v1/reports", json=body, headers=headers)


async def _wait_for_reports(system, nip: str, count: int) -> dict:
    async def reached():
        status = await _status(system, nip)
        return status if sum(c["report_count"] for c in status["cases"]) >= count else None

    return await eventually(reached, 15, f"{count} reports on {nip}")


async def test_a_report_becomes_a_status_and_a_timeline(make_system):
    system = await make_system("intake", "status")
    nip = random_nip()
    response = await _file(system, report_body(nip))
    assert response.status_code == 201, response.text
    accepted = response.json()
    assert accepted["case_opened"] is True
    assert accepted["complaint_number"].startswith("SBT-")

    status = await _wait_for_reports(system, nip, 1)
    assert status["open_cases"] == 1
    (case,) = status["cases"]
    assert case["case_id"] == accepted["case_id"]
    assert case["stage"] == "awaiting_verification"
    assert status["stream_position"] >= 2

    async with system.client("status", system.token("BKN", "observer")) as client:
        timeline = (await client.get(f"/v1/cases/{accepted['case_id']}/timeline")).json()
    assert [e["type"] for e in timeline["events"]] == ["sbt.case.opened.v1", "sbt.report.received.v1"]
    first, second = timeline["events"]
    assert first["prevhash"] == GENESIS_HASH and second["prevhash"] == first["hash"]
    assert second["producerseq"] == first["producerseq"] + 1
    # The reporter's identity never reaches the bus or the read side.
    assert "Siti" not in orjson.dumps(timeline).decode()


async def test_the_same_request_retried_with_an_idempotency_key_files_one_report(make_system):
    system = await make_system("intake", "status")
    nip = random_nip()
    body = report_body(nip)
    first = await _file(system, body, key="retry-1")
    second = await _file(system, body, key="retry-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("Idempotent-Replayed") == "true"

    reused = await _file(system, report_body(nip, description="another text"), key="retry-1")
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"

    status = await _wait_for_reports(system, nip, 1)
    assert len(status["cases"]) == 1 and status["cases"][0]["report_count"] == 1
    assert await system.scalar("intake", "SELECT count(*) FROM reports WHERE nip = :nip", nip=nip) == 1


async def test_two_reports_on_one_nip_and_election_make_one_case(make_system):
    system = await make_system("intake", "status")
    nip = random_nip()
    a = (await _file(system, report_body(nip))).json()
    b = (await _file(system, report_body(nip, violation_codes=["DISIPLIN-KAMPANYE"]))).json()
    other_election = (await _file(system, report_body(nip, election_code="PEMILU-2024"))).json()
    assert a["case_id"] == b["case_id"] and b["case_opened"] is False
    assert other_election["case_id"] != a["case_id"]

    status = await _wait_for_reports(system, nip, 3)
    cases = {c["case_id"]: c for c in status["cases"]}
    assert len(cases) == 2
    assert cases[a["case_id"]]["report_count"] == 2
    assert cases[a["case_id"]]["violation_codes"] == ["DISIPLIN-KAMPANYE", "ETIK-MEDSOS"]


async def test_invalid_input_is_refused_naming_the_field_and_writes_nothing(make_system):
    system = await make_system("intake")
    bad_nip = await _file(system, report_body("198609262015051000"))
    assert bad_nip.status_code == 422
    assert bad_nip.headers["content-type"].startswith("application/problem+json")
    assert {"field": "nip", "reason": "serial must be 001 to 999, got 000"} in bad_nip.json()["errors"]

    unknown = await _file(system, {**report_body(), "tersangka": "x"})
    assert unknown.status_code == 422
    assert {"field": "tersangka", "reason": "unknown field"} in unknown.json()["errors"]

    huge = await _file(system, report_body(description="x" * 70_000))
    assert huge.status_code == 413

    async def in_chunks():  # no Content-Length: the limit is found while reading
        body = orjson.dumps(report_body(description="x" * 70_000))
        for start in range(0, len(body), 8192):
            yield body[start:start + 8192]

    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        chunked = await client.post("/v1/reports", content=in_chunks(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413, chunked.text
    assert chunked.headers["content-type"].startswith("application/problem+json")

    async with system.client("intake") as anonymous:
        assert (await anonymous.post("/v1/reports", json=report_body())).status_code == 401
    async with system.client("intake", system.token("BKN", "observer")) as observer:
        assert (await observer.post("/v1/reports", json=report_body())).status_code == 403

    assert await system.scalar("intake", "SELECT count(*) FROM reports") == 0
    assert await system.scalar("intake", "SELECT count(*) FROM outbox") == 0


async def test_the_status_service_catches_up_after_being_killed(make_system):
    system = await make_system("intake", "status")
    nip = random_nip()
    await _file(system, report_body(nip))
    await _wait_for_reports(system, nip, 1)

    system["status"].kill()
    for _ in range(20):
        assert (await _file(system, report_body(nip))).status_code == 201
    system["status"].start()

    status = await _wait_for_reports(system, nip, 21)
    assert status["cases"][0]["report_count"] == 21
    logged = await system.scalar("status", "SELECT count(*) FROM events")
    distinct = await system.scalar("status", "SELECT count(DISTINCT event_id) FROM events")
    assert logged == distinct == 22  # one case.opened and 21 report.received, none doubled


async def test_reports_taken_while_nats_is_down_arrive_once_it_is_back(make_system):
    system = await make_system("intake", "status")
    nip = random_nip()
    system.nats.stop()
    for _ in range(10):
        assert (await _file(system, report_body(nip))).status_code == 201
    assert await system.scalar("intake", "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 11

    system.nats.start()
    status = await _wait_for_reports(system, nip, 10)
    assert status["cases"][0]["report_count"] == 10
    await eventually(
        lambda: _unsent(system), 10, "outbox drained"
    )
    assert await system.scalar("status", "SELECT count(*) FROM events") == 11


async def _unsent(system) -> bool:
    return await system.scalar("intake", "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


async def test_a_redelivered_event_changes_nothing_and_a_failing_one_is_dead_lettered(make_system):
    system = await make_system("intake", "status")
    nip = random_nip()
    accepted = (await _file(system, report_body(nip))).json()
    await _wait_for_reports(system, nip, 1)
    stored = await system.scalar(
        "intake", "SELECT envelope FROM outbox WHERE event_type = 'sbt.report.received.v1'"
    )
    subject = nats_subject(ReportReceived)

    connection = await nats.connect(system.nats.url)
    js = connection.jetstream()
    # The same event again, under another message id so JetStream's de-duplication lets it through.
    await js.publish(subject, stored.encode(), headers={"Nats-Msg-Id": "redelivery-test"})

    # A well-formed, correctly hashed event that the status service can never apply.
    poison = Envelope.model_validate(orjson.loads(stored)).model_copy(
        update={"id": "01POISON0000000000000000000", "subject": "another-case"}
    ).chained(999, GENESIS_HASH, producer_key(system, "intake"))
    await js.publish(subject, poison.model_dump_json(exclude_none=True).encode())
    # And one whose source lies about its producer.
    forged = poison.model_copy(update={"id": "01FORGED0000000000000000000", "source": "/sbt/status"}).chained(1, GENESIS_HASH)
    await js.publish(subject, forged.model_dump_json(exclude_none=True).encode())
    await connection.close()

    async def dead_letters():
        return await system.scalar("status", "SELECT count(*) FROM dead_letters") == 2

    await eventually(dead_letters, 20, "two dead letters")
    assert await system.scalar(
        "status", "SELECT attempts FROM dead_letters WHERE event_id = '01POISON0000000000000000000'"
    ) == 5
    assert "does not match the producer" in await system.scalar(
        "status", "SELECT error FROM dead_letters WHERE event_id = '01FORGED0000000000000000000'"
    )
    status = await _status(system, nip)
    assert status["cases"][0]["report_count"] == 1
    assert await system.scalar("status", "SELECT count(*) FROM events") == 2
    async with system.client("status", system.token("BKN", "observer")) as client:
        timeline = (await client.get(f"/v1/cases/{accepted['case_id']}/timeline")).json()
    assert len(timeline["events"]) == 2
