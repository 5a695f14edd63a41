"""Blocking as BKN decides it (SBT_BLOCKING_POLICY=decision, the default), through all five services as
real processes: overdue cases wait on BKN's worklist; a blocker blocks one (lifted after the PPK's late
follow-up), gives another more time (the sanction service extends its deadline; overdue again, BKN records
why it does not block), and blocks a third that it lifts by hand. The figures tell the four apart."""

from __future__ import annotations

import pytest

from tests.e2e.reports import random_nip, report_body
from tests.harness.cases import record_clarification
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

AGENCY = "PEMPROV-JABAR"


async def _call(system, service: str, method: str, path: str, token: str, body: dict | None = None,
                expect: int = 200) -> dict:  # noqa: ANN001
    async with system.client(service, token) as client:
        response = await client.request(method, path, json=body)
    assert response.status_code == expect, response.text
    return response.json()


async def _recommended_case(system) -> tuple[str, str]:  # noqa: ANN001
    nip = random_nip()
    case = (await _call(system, "intake", "POST", "/v1/reports", system.token("BAWASLU", "reporter"),
                        report_body(nip, agency_code=AGENCY), expect=201))["case_id"]
    verifier = system.token("BAWASLU", "verifier")

    async def known():
        async with system.client("recommendation", verifier) as client:
            return (await client.get(f"/v1/cases/{case}")).status_code == 200

    await eventually(known, 20, "case known to recommendation")
    await _call(system, "recommendation", "POST", f"/v1/cases/{case}/verification", verifier,
                {"outcome": "accepted", "reason": "Bukti cukup."}, expect=201)
    await record_clarification(system, case)
    await _call(system, "recommendation", "POST", f"/v1/cases/{case}/examination", system.token("BKN", "examiner"),
                {"outcome": "proven", "category": "discipline", "sanction_level": "moderate",
                 "legal_basis": "PP 94/2021 pasal 5 huruf n", "reason": "Terbukti."}, expect=201)
    return case, nip


async def test_bkn_blocks_gives_more_time_or_records_why_not_and_the_figures_tell_them_apart(make_system):
    system = await make_system("intake", "recommendation", "sanction", "blocking", "status", extra_env={
        "SBT_CLOCK_FIXED": "2024-11-18T09:00:00+07:00", "SBT_SWEEP_INTERVAL_SECONDS": "0"})
    admin, blocker, observer = system.token("BKN", "admin"), system.token("BKN", "blocker"), system.token("BKN", "observer")
    ppk = system.token(AGENCY, "ppk", ppk_agency=AGENCY)
    (late, late_nip), (granted, _), (by_hand, hand_nip) = [await _recommended_case(system) for _ in range(3)]

    async def followups_known():
        async with system.client("sanction", ppk) as client:
            return all([(await client.get(f"/v1/followups/{c}")).status_code == 200 for c in (late, granted, by_hand)])

    async def worklist(size: int):  # noqa: ANN202
        async def reached():
            answer = await _call(system, "blocking", "GET", "/v1/blocking/worklist", blocker)
            return answer if answer["total"] == size else None
        return await eventually(reached, 20, f"{size} case(s) on BKN's worklist")

    await eventually(followups_known, 20, "follow-up obligations")
    overdue = await _call(system, "sanction", "POST", "/v1/sweeps", admin, {"as_of": "2024-12-04"})
    assert sorted(o["case_id"] for o in overdue["overdue"]) == sorted([late, granted, by_hand])
    waiting = await worklist(3)
    assert {item["case_id"] for item in waiting["items"]} == {late, granted, by_hand}
    assert all(item["due_date"] == "2024-12-03" for item in waiting["items"])
    # Nobody is blocked until BKN decides.
    assert not (await _call(system, "blocking", "GET", f"/v1/personnel/{late_nip}/block", blocker))["blocked"]

    decide = "/v1/cases/{}/blocking-decision"
    blocked = await _call(system, "blocking", "POST", decide.format(late), blocker,
                          {"decision": "block", "reason": "PPK tidak menindaklanjuti."}, expect=201)
    assert blocked["decision"] == "blocked" and blocked["block_id"]
    await _call(system, "blocking", "POST", decide.format(granted), blocker,
                {"decision": "more_time", "working_days": 5, "reason": "PPK baru dilantik."}, expect=201)
    await _call(system, "blocking", "POST", decide.format(by_hand), blocker,
                {"decision": "block", "reason": "PPK tidak menindaklanjuti."}, expect=201)
    again = await _call(system, "blocking", "POST", decide.format(late), blocker,
                        {"decision": "decline", "reason": "Sudah diputus."}, expect=409)
    assert "not awaiting a blocking decision" in again["detail"]
    await _call(system, "blocking", "POST", decide.format(granted), blocker,
                {"decision": "block", "reason": "Tanpa hari."} | {"working_days": 3}, expect=422)

    # More time: the sanction service extends the deadline on blocking's event (5 working days after 3 Dec).
    async def extended():
        answer = await _call(system, "sanction", "GET", f"/v1/followups/{granted}", ppk)
        return answer if answer["due_date"] == "2024-12-10" else None

    await eventually(extended, 20, "deadline extended on BKN's decision")
    await worklist(0)

    # The PPK acts late on the blocked case; BKN lifts the other block by hand.
    await _call(system, "sanction", "POST", f"/v1/cases/{late}/followup", ppk, {
        "decree_number": "800/1/BKD/2024", "decree_date": "2024-11-18", "sanction_level": "moderate",
        "effective_from": "2024-11-18"}, expect=201)
    await _call(system, "blocking", "POST", f"/v1/personnel/{hand_nip}/unblock", blocker,
                {"reason": "Dibuka BKN setelah klarifikasi."})
    # Overdue again after its extension: back on the worklist, and BKN records why it does not block.
    overdue = await _call(system, "sanction", "POST", "/v1/sweeps", admin, {"as_of": "2024-12-11"})
    assert [o["case_id"] for o in overdue["overdue"]] == [granted]
    assert (await worklist(1))["items"][0]["due_date"] == "2024-12-10"
    declined = await _call(system, "blocking", "POST", decide.format(granted), blocker,
                           {"decision": "decline", "reason": "SK hukuman sedang ditandatangani."}, expect=201)
    assert declined["decision"] == "declined" and declined["block_id"] is None

    async def figures():
        total = (await _call(system, "status", "GET", "/v1/stats", observer))["total"]
        return total if total["block_declined"] == 1 and total["unblocked"] == 2 else None

    total = await eventually(figures, 20, "blocking figures")
    assert (total["ever_blocked"], total["blocked"], total["unblocked_after_followup"], total["unblocked_by_hand"],
            total["block_declined"], total["overdue"]) == (2, 0, 1, 1, 1, 2)  # lifted by hand: still overdue
    timeline = await _call(system, "status", "GET", f"/v1/cases/{granted}/timeline", observer)
    steps = [e["type"].removeprefix("sbt.") for e in timeline["events"]]
    assert steps[-5:] == ["followup.overdue.v1", "block.time_granted.v1", "followup.deadline_extended.v1",
                          "followup.overdue.v1", "block.declined.v1"]
    assert timeline["events"][-1]["data"]["reason"] == "SK hukuman sedang ditandatangani."
