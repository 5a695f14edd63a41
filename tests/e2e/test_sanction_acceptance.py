"""Issue 3's acceptance path through all five services, each a real process on a real database, talking
only through a real NATS: report -> verified -> proven "sedang" -> deadline (across the Pilkada voting-day
holiday) -> early warning -> deadline passes -> overdue -> blocked (the block query says so) -> the PPK
records the decree -> unblocked. Every step shows in the shared status and the case's timeline, with its
reason. The clock is pinned; time moves by sweeping for a date."""

from __future__ import annotations

import pytest

from tests.e2e.reports import random_nip, report_body
from tests.harness.cases import record_clarification
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

AGENCY = "PEMPROV-JABAR"


async def _post(system, service: str, path: str, body: dict, token: str, expect: int = 201) -> dict:  # noqa: ANN001
    async with system.client(service, token) as client:
        response = await client.post(path, json=body)
    assert response.status_code == expect, response.text
    return response.json()


async def _get(system, service: str, path: str, token: str) -> dict | None:  # noqa: ANN001
    async with system.client(service, token) as client:
        response = await client.get(path)
    return response.json() if response.status_code == 200 else None


async def test_report_to_sanction_through_overdue_block_and_unblock(make_system):
    system = await make_system("intake", "recommendation", "sanction", "blocking", "status", extra_env={
        "SBT_CLOCK_FIXED": "2024-11-18T09:00:00+07:00",  # Monday, after BKN took over examinations
        "SBT_FOLLOWUP_WORKING_DAYS": "10",
        "SBT_WARNING_WORKING_DAYS": "3",
        "SBT_SWEEP_INTERVAL_SECONDS": "0",
        "SBT_BLOCKING_POLICY": "automatic",  # BKN's decision instead: tests/e2e/test_blocking_decisions.py
    }, reference_data="published")
    observer, admin = system.token("BKN", "observer"), system.token("BKN", "admin")
    ppk = system.token(AGENCY, "ppk", ppk_agency=AGENCY)
    # The agency register (with its PPK) comes from intake's reference data, published as `sbt run` loads it.
    nip = random_nip()
    filed = await _post(system, "intake", "/v1/reports", report_body(nip, agency_code=AGENCY,
                        violation_codes=["DISIPLIN-KAMPANYE"]), system.token("BAWASLU", "reporter"))
    case = filed["case_id"]

    verifier = system.token("BAWASLU", "verifier")
    await eventually(lambda: _get(system, "recommendation", f"/v1/cases/{case}", verifier), 20, "case known")
    await _post(system, "recommendation", f"/v1/cases/{case}/verification",
                {"outcome": "accepted", "reason": "Video kampanye dan dua saksi."}, verifier)
    await record_clarification(system, case)
    await _post(system, "recommendation", f"/v1/cases/{case}/examination", {
        "outcome": "proven", "category": "discipline", "sanction_level": "moderate",
        "legal_basis": "PP 94/2021 pasal 5 huruf n", "reason": "Terbukti ikut kampanye pasangan calon.",
    }, system.token("BKN", "examiner"))

    # Ten working days from Monday 18 Nov, skipping Wednesday 27 Nov (Pilkada voting day): Tuesday 3 Dec.
    followup = await eventually(lambda: _get(system, "sanction", f"/v1/followups/{case}", ppk), 20, "deadline set")
    assert followup["due_date"] == "2024-12-03" and followup["recommended_level"] == "moderate"

    async def with_ppk_title():
        answer = await _get(system, "sanction", f"/v1/followups/{case}", ppk)
        return answer if answer and answer["ppk_title"] else None

    assert (await eventually(with_ppk_title, 20, "agency register projected"))["ppk_title"] == "Gubernur Jawa Barat"

    warned = await _post(system, "sanction", "/v1/sweeps", {"as_of": "2024-11-29"}, admin, expect=200)
    assert [(w["case_id"], w["working_days_left"]) for w in warned["warnings"]] == [(case, 2)]
    overdue = await _post(system, "sanction", "/v1/sweeps", {"as_of": "2024-12-04"}, admin, expect=200)
    assert [o["case_id"] for o in overdue["overdue"]] == [case]

    blocker = system.token("BKN", "blocker")

    async def blocked():
        answer = await _get(system, "blocking", f"/v1/personnel/{nip}/block", blocker)
        return answer if answer and answer["blocked"] else None

    block = await eventually(blocked, 20, "personnel data blocked")
    assert [(b["case_id"], b["cause"]) for b in block["blocks"]] == [(case, "overdue")]

    async def status_where(check):  # noqa: ANN001, ANN202
        async def reached():
            answer = await _get(system, "status", f"/v1/asn/{nip}/status", observer)
            return answer if answer and check(answer) else None
        return await eventually(reached, 20, "status")

    status = await status_where(lambda s: s["blocked"])
    assert status["cases"][0]["stage"] == "awaiting_ppk"

    recorded = await _post(system, "sanction", f"/v1/cases/{case}/followup", {
        "decree_number": "800/912/BKD/2024", "decree_date": "2024-11-18", "sanction_level": "moderate",
        "effective_from": "2024-11-18", "effective_until": "2025-11-17",
    }, ppk)
    assert recorded["followup"]["late"] and not recorded["followup"]["lighter_than_recommended"]

    lifted = await eventually(
        lambda: _unblocked(system, nip, blocker), 20, "block lifted after the follow-up"
    )
    assert lifted["blocks"] == []
    status = await status_where(lambda s: not s["blocked"] and s["cases"][0]["stage"] == "sanctioned")
    reasons = {change["stage"]: change["reason"] for change in status["cases"][0]["history"]}
    assert reasons["awaiting_examination"] == "Video kampanye dan dua saksi."
    assert reasons["sanctioned"].startswith("SK 800/912/BKD/2024")

    timeline = await _get(system, "status", f"/v1/cases/{case}/timeline", observer)
    steps = [e["type"].removeprefix("sbt.") for e in timeline["events"]]
    assert steps == [
        "case.opened.v1", "report.received.v1", "case.verification_decided.v1",
        "case.clarification_recorded.v1", "case.examined.v1",
        "recommendation.issued.v1", "followup.deadline_set.v1", "followup.warning.v1", "followup.overdue.v1",
        "personnel.blocked.v1", "followup.recorded.v1", "personnel.unblocked.v1",
    ]
    data = {e["type"].removeprefix("sbt."): e["data"] for e in timeline["events"]}
    assert data["case.examined.v1"]["reason"] == "Terbukti ikut kampanye pasangan calon."
    assert data["recommendation.issued.v1"]["sanction_level"] == "moderate"
    assert data["followup.overdue.v1"]["due_date"] == "2024-12-03"
    assert data["personnel.blocked.v1"]["reason"] and data["personnel.unblocked.v1"]["reason"]


async def _unblocked(system, nip: str, token: str) -> dict | None:  # noqa: ANN001
    answer = await _get(system, "blocking", f"/v1/personnel/{nip}/block", token)
    return answer if answer and not answer["blocked"] else None
