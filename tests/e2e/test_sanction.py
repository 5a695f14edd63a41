"""The sanction service end to end, on a real NATS server, real databases and real service processes.

Cases are filed through intake's REST API; the recommendation that starts the PPK's deadline is published
on NATS as the recommendation service would publish it (a correctly chained envelope from
``/sbt/recommendation``). Time is pinned with ``SBT_CLOCK_FIXED`` and moved by sweeping for a given date.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import nats
import orjson
import pytest

from shared.events import GENESIS_HASH, Envelope, nats_subject
from shared.events.envelope import utc_now_text
from shared.events.recommendation import RecommendationIssued
from shared.ids import new_id
from tests.e2e.access_log import logged_entries
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually
from tests.harness.signing import producer_key

pytestmark = pytest.mark.e2e

AGENCY = "PEMPROV-JABAR"
# Cuti bersama Natal 2024 (26 Dec) is not a public holiday in the holidays package: it is configuration.
CUTI_BERSAMA = '["2024-12-26"]'


class Recommender:
    """Publishes ``recommendation.issued`` as the recommendation service would: one hash chain."""

    def __init__(self, system) -> None:  # noqa: ANN001
        self.system = system
        self.seq, self.prev = 0, GENESIS_HASH

    async def issue(self, case_id: str, nip: str, issued_at: str, level: str = "moderate") -> None:
        data = RecommendationIssued(
            case_id=case_id, recommendation_number=f"REK-2024-{self.seq + 1:06d}", nip=nip, agency_code=AGENCY,
            category="discipline", sanction_level=level, legal_basis="PP 94/2021 pasal 5 huruf n",
            examining_authority="BKN", issued_at=dt.datetime.fromisoformat(issued_at),
        )
        self.seq += 1
        envelope = Envelope(
            id=new_id(), source="/sbt/recommendation", type=data.event_type, time=utc_now_text(),
            subject=case_id, data=data.model_dump(mode="json"),
        ).chained(self.seq, self.prev, producer_key(self.system, "recommendation"))
        self.prev = envelope.hash
        connection = await nats.connect(self.system.nats.url)
        try:
            await connection.jetstream().publish(
                nats_subject(RecommendationIssued), envelope.model_dump_json(exclude_none=True).encode(),
                headers={"Nats-Msg-Id": envelope.id},
            )
        finally:
            await connection.close()


async def _open_case(system) -> tuple[str, str]:  # noqa: ANN001
    nip = random_nip()
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        response = await client.post("/v1/reports", json=report_body(nip, agency_code=AGENCY))
    assert response.status_code == 201, response.text
    return response.json()["case_id"], nip


async def _followup(system, case_id: str, token: str) -> dict | None:  # noqa: ANN001
    async with system.client("sanction", token) as client:
        response = await client.get(f"/v1/followups/{case_id}")
    return response.json() if response.status_code == 200 else None


async def _status_of(system, case_id: str) -> dict:  # noqa: ANN001
    state = await system.scalar("status", "SELECT state FROM case_status WHERE case_id = :id", id=case_id)
    return orjson.loads(state) if state else {}


async def _sweep(system, as_of: str) -> dict:  # noqa: ANN001
    async with system.client("sanction", system.token("BKN", "admin")) as client:
        response = await client.post("/v1/sweeps", json={"as_of": as_of})
    assert response.status_code == 200, response.text
    return response.json()


async def _count(system, event_type: str, case_id: str | None = None) -> int:  # noqa: ANN001
    query = "SELECT count(*) FROM outbox WHERE event_type = :type"
    if case_id is None:
        return await system.scalar("sanction", query, type=event_type)
    return await system.scalar("sanction", query + " AND envelope LIKE :case", type=event_type, case=f"%{case_id}%")


async def test_deadline_warning_overdue_then_a_lighter_late_followup(make_system):
    system = await make_system("intake", "sanction", "status", extra_env={
        "SBT_CLOCK_FIXED": "2024-12-13T09:00:00+07:00",  # a Friday
        "SBT_EXTRA_DAYS_OFF": CUTI_BERSAMA,
        "SBT_FOLLOWUP_WORKING_DAYS": "10",
        "SBT_WARNING_WORKING_DAYS": "3",
        "SBT_SWEEP_INTERVAL_SECONDS": "0.2",
    })
    recommender = Recommender(system)
    ppk = system.token(AGENCY, "ppk", ppk_agency=AGENCY)
    case, nip = await _open_case(system)
    stale_case, stale_nip = await _open_case(system)
    await recommender.issue(case, nip, "2024-12-13T02:00:00+00:00")  # 09:00 in Jakarta
    await recommender.issue(stale_case, stale_nip, "2024-11-01T02:00:00+00:00")

    # Ten working days after Friday 13 Dec, skipping Christmas and the configured cuti bersama.
    followup = await eventually(lambda: _followup(system, case, ppk), 20, "deadline set")
    assert followup["due_date"] == "2024-12-31" and followup["state"] == "pending"
    assert followup["working_days_left"] == 10
    # The periodic sweep (as of the pinned today) finds the November case overdue by itself, once.
    stale = await eventually(
        lambda: _followup_in_state(system, stale_case, ppk, "overdue"), 20, "periodic sweep marks overdue"
    )
    assert stale["due_date"] == "2024-11-15" and stale["overdue_on"] == "2024-11-18"

    # Three working days before the due date (27, 30, 31 Dec): the early warning, once.
    warned = await _sweep(system, "2024-12-24")
    assert [(w["case_id"], w["kind"], w["working_days_left"]) for w in warned["warnings"]] == [
        (case, "early_warning", 3)
    ]
    assert warned["overdue"] == []
    assert (await _sweep(system, "2024-12-24"))["warnings"] == []
    # New Year's Day is not a working day, so the case is not overdue yet; the next day it is, once.
    assert (await _sweep(system, "2025-01-01"))["overdue"] == []
    # Three sweeps at once for the same day: exactly one of them announces it.
    sweeps = await asyncio.gather(*(_sweep(system, "2025-01-02") for _ in range(3)))
    announced = [(o["case_id"], o["due_date"]) for result in sweeps for o in result["overdue"]]
    assert announced == [(case, "2024-12-31")]
    assert (await _sweep(system, "2025-01-02"))["overdue"] == []
    assert await _count(system, "sbt.followup.overdue.v1") == 2  # one per case, whichever sweep ran
    assert await _count(system, "sbt.followup.warning.v1", case) == 1

    status = await eventually(lambda: _status_with(system, case, "overdue"), 20, "overdue in the status")
    assert status["stage"] == "awaiting_ppk" and status["warned"] and status["due_date"] == "2024-12-31"

    body = {"decree_number": "800/77/BKD/2024", "decree_date": "2024-12-13", "sanction_level": "light",
            "effective_from": "2024-12-16", "effective_until": "2025-12-15"}
    async with system.client("sanction", system.token("PEMKAB-BOGOR", "ppk", ppk_agency="PEMKAB-BOGOR")) as other:
        assert (await other.post(f"/v1/cases/{case}/followup", json=body)).status_code == 403
        assert (await other.get("/v1/followups", params={"agency": AGENCY})).status_code == 403
    async with system.client("sanction", system.token("BKN", "observer")) as observer:
        assert (await observer.post(f"/v1/cases/{case}/followup", json=body)).status_code == 403
    async with system.client("sanction", ppk) as client:
        lighter = await client.post(f"/v1/cases/{case}/followup", json=body)
        assert lighter.status_code == 422
        assert lighter.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in lighter.json()["errors"]] == ["reason"]
        assert await _count(system, "sbt.followup.recorded.v1") == 0
        assert (await client.get(f"/v1/followups/{case}")).json()["state"] == "overdue"

        recorded = await client.post(f"/v1/cases/{case}/followup", json={**body, "reason": "Pertama kali, kooperatif."})
        assert recorded.status_code == 201, recorded.text
        decree = recorded.json()["followup"]
        assert decree["lighter_than_recommended"] and decree["late"]
        assert recorded.json()["state"] == "done"
        again = await client.post(f"/v1/cases/{case}/followup", json={**body, "sanction_level": "moderate"})
        assert again.status_code == 409
        done = (await client.get("/v1/followups", params={"state": "done"})).json()["items"]
        assert [item["case_id"] for item in done] == [case]
    # Who recorded the decree is on record, the refused attempt too (route templates, never the case id).
    async with system.client("sanction", system.token("BKN", "admin")) as client:
        entries = await logged_entries(client, lambda found: sum(e["method"] == "POST" for e in found) >= 3,
                                       what="the three decree posts logged", client_id="pemprov-jabar-client")
    posts = [(e["route"], e["status"], e["agency"]) for e in entries if e["method"] == "POST"]
    assert sorted(posts) == [("/v1/cases/{case_id}/followup", code, AGENCY) for code in (201, 409, 422)]

    status = await eventually(lambda: _status_with(system, case, "lighter_than_recommended"), 20, "sanctioned")
    assert status["stage"] == "sanctioned" and status["followed_up_late"] and status["imposed_level"] == "light"
    async with system.client("status", system.token("BKN", "observer")) as client:
        timeline = (await client.get(f"/v1/cases/{case}/timeline")).json()
    sanction_events = [e["type"].removeprefix("sbt.followup.") for e in timeline["events"]
                       if e["source"] == "/sbt/sanction"]
    assert sanction_events == ["deadline_set.v1", "warning.v1", "overdue.v1", "recorded.v1"]
    assert timeline["events"][-1]["data"]["reason"] == "Pertama kali, kooperatif."


async def test_suspension_and_extension_move_the_due_date_by_working_days_across_the_holidays(make_system):
    system = await make_system("intake", "sanction", "status", extra_env={
        "SBT_CLOCK_FIXED": "2024-12-20T10:00:00+07:00",  # a Friday
        "SBT_EXTRA_DAYS_OFF": CUTI_BERSAMA,
        "SBT_SWEEP_INTERVAL_SECONDS": "0",
    })
    recommender = Recommender(system)
    examiner = system.token("BKN", "examiner")
    case, nip = await _open_case(system)
    await recommender.issue(case, nip, "2024-12-02T03:00:00+00:00")  # Monday 2 Dec

    followup = await eventually(lambda: _followup(system, case, examiner), 20, "deadline set")
    assert followup["due_date"] == "2024-12-16"
    async with system.client("sanction", examiner) as client:
        missing_reason = await client.post(f"/v1/cases/{case}/deadline/suspend", json={"on": "2024-12-10"})
        assert missing_reason.status_code == 422 and missing_reason.json()["errors"][0]["field"] == "reason"
        future = await client.post(f"/v1/cases/{case}/deadline/suspend", json={"reason": "x", "on": "2024-12-23"})
        assert future.status_code == 422 and future.json()["errors"][0]["field"] == "on"
        async with system.client("sanction", system.token("BAWASLU", "verifier")) as verifier:
            denied = await verifier.post(f"/v1/cases/{case}/deadline/suspend", json={"reason": "x"})
            assert denied.status_code == 403

        # Suspended on Tuesday 10 Dec with 11, 12, 13 and 16 Dec left.
        suspended = await client.post(f"/v1/cases/{case}/deadline/suspend",
                                      json={"reason": "PPK menunggu pertimbangan BKN.", "on": "2024-12-10"})
        assert suspended.status_code == 200, suspended.text
        assert suspended.json()["state"] == "suspended" and suspended.json()["working_days_left"] == 4
        # A suspended deadline never goes overdue, however late the sweep.
        assert (await _sweep(system, "2025-02-03"))["overdue"] == []
        assert (await client.post(f"/v1/cases/{case}/deadline/extend",
                                  json={"reason": "x", "working_days": 2})).status_code == 409

        # Resumed on Friday 20 Dec: 23, 24, (25 Christmas, 26 cuti bersama), 27, 30.
        resumed = await client.post(f"/v1/cases/{case}/deadline/resume", json={"reason": "Pertimbangan diterima."})
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["due_date"] == "2024-12-30" and resumed.json()["state"] == "pending"
        # Extended by 3 working days: 31 Dec, (1 Jan New Year), 2 and 3 Jan.
        extended = await client.post(f"/v1/cases/{case}/deadline/extend",
                                     json={"reason": "PPK berganti.", "working_days": 3})
        assert extended.status_code == 200, extended.text
        assert extended.json()["due_date"] == "2025-01-03"
        assert extended.json()["working_days_left"] == 7  # from Friday 20 Dec

    assert (await _sweep(system, "2025-01-03"))["warnings"][0]["kind"] == "due_today"
    assert (await _sweep(system, "2025-01-06"))["overdue"][0]["due_date"] == "2025-01-03"
    assert await system.scalar("sanction", "SELECT count(*) FROM deadline_changes WHERE case_id = :id", id=case) == 3

    status = await eventually(lambda: _status_with(system, case, "overdue"), 20, "the status follows")
    assert status["due_date"] == "2025-01-03" and not status["deadline_suspended"]
    async with system.client("status", system.token("BKN", "observer")) as client:
        timeline = (await client.get(f"/v1/cases/{case}/timeline")).json()
    changes = [(e["type"], e["data"].get("reason"), e["data"].get("due_date")) for e in timeline["events"]
               if e["type"].startswith("sbt.followup.deadline_")]
    assert changes == [
        ("sbt.followup.deadline_set.v1", None, "2024-12-16"),
        ("sbt.followup.deadline_suspended.v1", "PPK menunggu pertimbangan BKN.", None),
        ("sbt.followup.deadline_resumed.v1", "Pertimbangan diterima.", "2024-12-30"),
        ("sbt.followup.deadline_extended.v1", "PPK berganti.", "2025-01-03"),
    ]


async def _followup_in_state(system, case_id: str, token: str, state: str) -> dict | None:  # noqa: ANN001
    followup = await _followup(system, case_id, token)
    return followup if followup and followup["state"] == state else None


async def _status_with(system, case_id: str, flag: str) -> dict | None:  # noqa: ANN001
    status = await _status_of(system, case_id)
    return status if status.get(flag) else None
