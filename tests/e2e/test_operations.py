"""Operating SBT, end to end: /metrics counts match what happened, one trace id can be followed through
the logs of every service a case touched, and operators can see backlog and lag and list dead letters."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys

import nats
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.events import GENESIS_HASH, Envelope, nats_subject
from shared.events.intake import ReportReceived
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

OPENED, RECEIVED = "sbt.case.opened.v1", "sbt.report.received.v1"


async def scrape(system, service: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a service's /metrics, keyed by (name, labels)."""
    async with system.client(service) as client:  # no token: scraped like /healthz
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def by_label(samples: dict, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: value for (n, labels), value in samples.items() if n == name}


def one(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def log_lines(system, service: str) -> list[dict]:
    lines = []
    for text in system[service].log_text().splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


async def sbt_ops(system, *args: str, env: dict[str, str] | None = None) -> dict:
    completed = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "services.cli", "ops", *args],
        env={**system.env, **(env or {})}, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


async def test_metrics_trace_logs_and_operator_views_match_what_happened(make_system):
    system = await make_system("intake", "status")
    reporter = system.token("BAWASLU", "reporter")
    admin = system.token("BKN", "admin")

    # Three civil servants: two reports on the first, one on each of the others; one report is refused.
    nips = [random_nip() for _ in range(3)]
    trace_id = secrets.token_hex(16)
    traced_case = None
    async with system.client("intake", reporter) as client:
        for index, nip in enumerate([nips[0], nips[0], nips[1], nips[2]]):
            headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"} if index == 2 else {}
            response = await client.post("/v1/reports", json=report_body(nip), headers=headers)
            assert response.status_code == 201, response.text
            if index == 2:
                traced_case = response.json()["case_id"]
                assert response.headers["traceparent"].split("-")[1] == trace_id
        refused = await client.post("/v1/reports", json=report_body("198609262015051000"))
        assert refused.status_code == 422

    async def settled():
        intake, status = await scrape(system, "intake"), await scrape(system, "status")
        published = by_label(intake, "sbt_events_published_total", "event_type")
        consumed = by_label(status, "sbt_events_consumed_total", "event_type")
        # The consumer counts an event before its ack reaches the server, so settled also waits for
        # the server to hold no unacknowledged delivery.
        drained = (
            one(intake, "sbt_outbox_backlog") == 0
            and one(status, "sbt_consumer_lag") == 0
            and one(status, "sbt_consumer_ack_pending") == 0
        )
        return (intake, status) if drained and published == consumed == {OPENED: 3.0, RECEIVED: 4.0} else None

    intake, status = await eventually(settled, 20, "every published event consumed")
    # Events published by intake = events consumed by status, per type, and nothing left behind.
    assert by_label(intake, "sbt_events_staged_total", "event_type") == {OPENED: 3.0, RECEIVED: 4.0}
    assert one(intake, "sbt_outbox_backlog") == 0 and one(intake, "sbt_outbox_oldest_age_seconds") == 0
    assert one(status, "sbt_consumer_lag") == 0 and one(status, "sbt_consumer_ack_pending") == 0
    assert by_label(status, "sbt_events_dead_lettered_total", "event_type") == {}
    assert one(status, "sbt_bus_connected") == 1
    # Requests by route template and status code, with a latency histogram per route.
    assert one(intake, "sbt_http_requests_total", route="/v1/reports", method="POST", code="201") == 4
    assert one(intake, "sbt_http_requests_total", route="/v1/reports", method="POST", code="422") == 1
    assert one(intake, "sbt_http_request_duration_seconds_count", route="/v1/reports", method="POST") == 5
    assert one(intake, "sbt_service_info", service="intake") == 1
    assert ("sbt_deadline_sweeps_total", frozenset()) in intake

    # One trace id, followed from the HTTP request through the outbox and the bus into the consumer.
    intake_lines = [line for line in log_lines(system, "intake") if line.get("trace_id") == trace_id]
    assert {"request", "event staged"} <= {line["event"] for line in intake_lines}
    (request_line,) = [line for line in intake_lines if line["event"] == "request"]
    assert request_line["route"] == "/v1/reports" and request_line["status"] == 201
    staged = {line["event_id"] for line in intake_lines if line["event"] == "event staged"}
    assert len(staged) == 2  # the case opened and the report received

    async def applied_in_status():
        lines = [line for line in log_lines(system, "status") if line.get("trace_id") == trace_id]
        return lines if {line.get("event_id") for line in lines if line["event"] == "event applied"} == staged else None

    status_lines = await eventually(applied_in_status, 10, "the traced events applied by status")
    assert {line["case_id"] for line in status_lines if line["event"] == "event applied"} == {traced_case}
    assert all(line["service"] == "status" for line in status_lines)
    # Other cases' lines carry other trace ids.
    other = [line for line in log_lines(system, "status") if line["event"] == "event applied"
             and line.get("trace_id") != trace_id]
    assert len(other) == 5 and all(line["trace_id"] for line in other)

    # The traceparent also travels as a NATS header, for subscribers outside SBT.
    connection = await nats.connect(system.nats.url)
    js = connection.jetstream()
    subscription = await js.pull_subscribe(nats_subject(ReportReceived), durable=None, stream="SBT_EVENTS")
    messages = await subscription.fetch(4, timeout=5)
    headers = {orjson.loads(m.data)["subject"]: m.headers.get("traceparent", "") for m in messages}
    assert headers[traced_case].split("-")[1] == trace_id

    # A forged event is dead-lettered, counted, listed for the operator, and a replay of it fails again.
    stored = await system.scalar("intake", "SELECT envelope FROM outbox WHERE event_type = :t", t=RECEIVED)
    forged = Envelope.model_validate(orjson.loads(stored)).model_copy(
        update={"id": "01FORGED0000000000000000000", "source": "/sbt/status"}
    ).chained(1, GENESIS_HASH)
    await js.publish(nats_subject(ReportReceived), forged.model_dump_json(exclude_none=True).encode())
    await connection.close()

    async def dead_lettered():
        samples = await scrape(system, "status")
        # The counter moves when the consumer gives up; the open gauge is read from the dead-letter
        # table, which the same step writes: wait for both.
        counted = one(samples, "sbt_events_dead_lettered_total", event_type=RECEIVED) == 1
        return samples if counted and one(samples, "sbt_dead_letters_open") == 1 else None

    status = await eventually(dead_lettered, 15, "the forged event dead-lettered")
    assert one(status, "sbt_dead_letters_open") == 1

    async with system.client("status", admin) as ops:
        listed = (await ops.get("/v1/ops/dead-letters")).json()
        assert listed["open"] == 1
        (letter,) = listed["items"]
        assert letter["event_id"] == "01FORGED0000000000000000000" and "does not match the producer" in letter["error"]
        replayed = await ops.post(f"/v1/ops/dead-letters/{letter['id']}/replay")
        assert replayed.status_code == 200 and replayed.json()["outcome"] == "failed"
        assert (await ops.get("/v1/ops/dead-letters")).json()["open"] == 1
        assert (await ops.post("/v1/ops/dead-letters/999/replay")).status_code == 404
        backlog = (await ops.get("/v1/ops/backlog")).json()
        assert backlog["consumer"]["num_pending"] == 0 and backlog["dead_letters_open"] == 1
        assert backlog["consumer"]["stream_position"] == 7  # the dead letter does not advance it
    async with system.client("intake", admin) as ops:
        backlog = (await ops.get("/v1/ops/backlog")).json()
        assert backlog["outbox"] == {"unsent": 0, "oldest_created_at": None, "oldest_age_seconds": 0.0}
        assert backlog["service"] == "intake"
    # The same through `sbt ops`, which mints its admin token with the deployment's signing key.
    listed_by_cli = await sbt_ops(system, "dead-letters", "--json", "--service", "status", "--url",
                                  system["status"].url)
    assert [item["id"] for item in listed_by_cli["items"]] == [letter["id"]]
    backlog_by_cli = await sbt_ops(system, "backlog", "--json", "--service", "status",
                                   env={"SBT_STATUS_URL": system["status"].url})
    assert backlog_by_cli["services"][0]["consumer"]["num_pending"] == 0

    # Behind the admin role only.
    async with system.client("status", system.token("BKN", "observer")) as observer:
        assert (await observer.get("/v1/ops/dead-letters")).status_code == 403
        assert (await observer.post(f"/v1/ops/dead-letters/{letter['id']}/replay")).status_code == 403
    async with system.client("status") as anonymous:
        assert (await anonymous.get("/v1/ops/backlog")).status_code == 401


async def test_one_trace_id_follows_a_case_through_every_service_it_touched(make_system):
    from services.cli.demo import play  # the national scenario: report, verify, examine, follow up, sweep, block

    system = await make_system("intake", "recommendation", "sanction", "blocking", "status")
    urls = {name: service.url for name, service in system.services.items()}
    _tally, _figures, agreed = await play(system.settings, urls, cases=12, seed=11, concurrency=4,
                                          say=lambda _line: None)
    assert agreed
    logs = {name: log_lines(system, name) for name in system.services}
    requests = {line["trace_id"] for lines in logs.values() for line in lines
                if line["event"] == "request" and line.get("trace_id")}

    # Every event any consumer applied, if it carried a trace, leads back to the HTTP request that caused it.
    applied = [line for lines in logs.values() for line in lines if line["event"] == "event applied"]
    assert len(applied) > 50
    traced = [line for line in applied if line.get("trace_id")]
    assert len(traced) >= 0.9 * len(applied)
    assert {line["trace_id"] for line in traced} <= requests

    # An examination: the request to the recommendation service, its recommendation.issued event applied by
    # sanction, the deadline that sanction set in that handler (same trace, second hop over the bus), and both
    # events applied by status, all under the examination request's trace id.
    issued = next(line for line in logs["recommendation"]
                  if line["event"] == "event staged" and line["event_type"] == "sbt.recommendation.issued.v1")
    trace_id, case_id = issued["trace_id"], issued["case_id"]
    touched = {name for name, lines in logs.items() if any(line.get("trace_id") == trace_id for line in lines)}
    assert {"recommendation", "sanction", "status"} <= touched

    def seen(service: str, event: str, event_type: str) -> bool:
        return any(line["event"] == event and line.get("event_type") == event_type and line.get("trace_id") == trace_id
                   and line.get("case_id") == case_id for line in logs[service])

    assert any(line["event"] == "request" and line.get("trace_id") == trace_id for line in logs["recommendation"])
    assert seen("sanction", "event applied", "sbt.recommendation.issued.v1")
    assert seen("sanction", "event staged", "sbt.followup.deadline_set.v1")
    assert seen("status", "event applied", "sbt.recommendation.issued.v1")
    assert seen("status", "event applied", "sbt.followup.deadline_set.v1")

    # Deadline sweeps are counted, and `sbt ops sweep` forwards one to the sanction service for a given day.
    before = one(await scrape(system, "sanction"), "sbt_deadline_sweeps_total")
    assert before >= 1  # the demo's sweeps
    swept = await sbt_ops(system, "sweep", "--json", "--date", "2030-01-02", "--url", system["sanction"].url)
    assert swept["as_of"] == "2030-01-02"
    assert one(await scrape(system, "sanction"), "sbt_deadline_sweeps_total") == before + 1
