"""Verification, examination and recommendation end to end: intake -> NATS -> recommendation -> NATS ->
status, each a real process on a real database."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from pathlib import Path

import pytest

from services.intake.reference.importer import import_reference
from tests.e2e.reports import random_nip, report_body
from tests.harness.cases import CLARIFICATION_SUMMARY, record_clarification
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

SEED_VIOLATIONS = Path(__file__).resolve().parents[2] / "deploy" / "seed" / "violations.csv"
DISCIPLINE = {"category": "discipline", "sanction_level": "moderate", "legal_basis": "PP 94/2021 pasal 5 huruf n"}


async def _file(system, nip: str, **overrides) -> str:
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        response = await client.post("/v1/reports", json=report_body(nip, **overrides))
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


async def _known(system, case_id: str) -> dict:
    """The case once the recommendation service has learnt it from intake's events."""
    async def known():
        async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
            response = await client.get(f"/v1/cases/{case_id}")
        return response.json() if response.status_code == 200 else None

    return await eventually(known, 15, f"case {case_id} known to recommendation")


async def _verify(system, case_id: str, outcome: str, reason: str = "Bukti cukup untuk diperiksa.",
                  agency: str = "BAWASLU", role: str = "verifier"):
    async with system.client("recommendation", system.token(agency, role)) as client:
        return await client.post(f"/v1/cases/{case_id}/verification", json={"outcome": outcome, "reason": reason})


async def _examine(system, case_id: str, body: dict, agency: str = "BKN", role: str = "examiner"):
    async with system.client("recommendation", system.token(agency, role)) as client:
        return await client.post(f"/v1/cases/{case_id}/examination", json=body)


async def _clarify(system, case_id: str, body: dict, agency: str = "BKN", role: str = "examiner"):
    async with system.client("recommendation", system.token(agency, role)) as client:
        return await client.post(f"/v1/cases/{case_id}/clarification", json=body)


async def _worklist(system, stage: str, **params) -> dict:
    async with system.client("recommendation", system.token("BKN", "examiner")) as client:
        response = await client.get("/v1/cases", params={"stage": stage, **params})
    assert response.status_code == 200, response.text
    return response.json()


async def _status_stage(system, nip: str, case_id: str, stage: str) -> dict:
    async def reached():
        async with system.client("status", system.token("BKN", "observer")) as client:
            response = await client.get(f"/v1/asn/{nip}/status")
        assert response.status_code == 200, response.text
        cases = {c["case_id"]: c for c in response.json()["cases"]}
        case = cases.get(case_id)
        return case if case and case["stage"] == stage else None

    return await eventually(reached, 15, f"case {case_id} at {stage} in the status")


async def _timeline(system, case_id: str) -> dict:
    async with system.client("status", system.token("BKN", "observer")) as client:
        response = await client.get(f"/v1/cases/{case_id}/timeline")
    assert response.status_code == 200, response.text
    return response.json()


async def _authority(system, **params) -> dict:
    async with system.client("recommendation", system.token("BKN", "examiner")) as client:
        response = await client.get("/v1/role-assignments", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def _catalogue_size(system, expected: int) -> bool:
    return await system.scalar("recommendation", "SELECT count(*) FROM violations") == expected


async def _outbox(system) -> int:
    return await system.scalar("recommendation", "SELECT count(*) FROM outbox")


async def test_a_proven_case_awaits_the_ppk_with_its_recommendation_and_every_reason(make_system):
    system = await make_system("intake", "recommendation", "status")
    nip = random_nip()
    case_id = await _file(system, nip, violation_codes=["DISIPLIN-KAMPANYE"])
    await _known(system, case_id)
    # A second report on the same acts joins the case: counted, its violation codes merged.
    assert await _file(system, nip, violation_codes=["ETIK-MEDSOS"]) == case_id

    async def both_reports():
        case = await _known(system, case_id)
        return case if case["report_count"] == 2 else None

    case = await eventually(both_reports, 15, "two reports")
    assert case["stage"] == "awaiting_verification"
    assert case["violation_codes"] == ["DISIPLIN-KAMPANYE", "ETIK-MEDSOS"]
    opened_on = dt.datetime.fromisoformat(case["opened_at"]).astimezone(dt.timezone(dt.timedelta(hours=7))).date()
    assert case["verification_due"] == str(opened_on + dt.timedelta(days=7))
    assert case["verification_overdue"] is False
    assert case_id in [c["case_id"] for c in (await _worklist(system, "awaiting_verification", limit=200))["items"]]

    # Refusals write nothing: out of order, wrong agency, wrong role, unknown case, bad fields.
    early = await _examine(system, case_id, {"outcome": "proven", **DISCIPLINE, "reason": "x"})
    assert early.status_code == 409, early.text
    assert "awaits verification" in early.json()["detail"]
    not_verifier = await _verify(system, case_id, "accepted", agency="PEMPROV-JABAR")
    assert not_verifier.status_code == 403 and "PEMPROV-JABAR is not the verifier" in not_verifier.json()["detail"]
    assert (await _verify(system, case_id, "accepted", role="observer")).status_code == 403
    assert (await _verify(system, "01NOSUCHCASE00000000000000", "accepted")).status_code == 404
    bad = await _verify(system, case_id, "maybe", reason=" ")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in bad.json()["errors"]} == {"outcome", "reason"}
    assert await _outbox(system) == 0

    accepted = await _verify(system, case_id, "accepted", reason="Bukti video dan saksi cukup.")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["stage"] == "awaiting_examination"
    assert accepted.json()["verification"]["decided_by_agency"] == "BAWASLU"
    again = await _verify(system, case_id, "rejected")
    assert again.status_code == 409
    assert again.json()["detail"].endswith("the verification was already decided: the case is awaiting_examination")
    waiting = await _worklist(system, "awaiting_examination", limit=200)
    assert case_id in [c["case_id"] for c in waiting["items"]]

    # Presumption of innocence: no proven finding before the civil servant's clarification is recorded.
    unheard = await _examine(system, case_id, {"outcome": "proven", **DISCIPLINE, "reason": "Terbukti."})
    assert unheard.status_code == 409, unheard.text
    assert unheard.json()["title"] == "clarification required" and "clarification" in unheard.json()["detail"]
    assert await _outbox(system) == 1
    assert (await _known(system, case_id))["stage"] == "awaiting_examination"
    # Recorded only by the examining authority of the day, with a summary when given, never in the future.
    assert (await _clarify(system, case_id, {"outcome": "given", "summary": "x"}, agency="BAWASLU",
                           role="verifier")).status_code == 403
    assert (await _clarify(system, case_id, {"outcome": "given", "summary": "x"}, agency="KASN")).status_code == 403
    no_summary = await _clarify(system, case_id, {"outcome": "given"})
    assert no_summary.status_code == 422 and no_summary.json()["errors"][0]["field"] == "summary"
    declined_with_words = await _clarify(system, case_id, {"outcome": "declined", "summary": "x"})
    assert declined_with_words.status_code == 422 and declined_with_words.json()["errors"][0]["field"] == "summary"
    future = await _clarify(system, case_id, {"outcome": "declined", "clarified_on": "2999-01-01"})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "clarified_on"
    assert await _outbox(system) == 1
    clarified = await record_clarification(system, case_id)
    assert clarified["clarification"]["outcome"] == "given"
    assert clarified["clarification"]["summary"] == CLARIFICATION_SUMMARY  # the examiner reads the words
    # The verifier reads that it was given and when, not what was said (least need).
    as_verifier = (await _known(system, case_id))["clarification"]
    assert as_verifier["outcome"] == "given" and as_verifier["summary"] is None
    assert as_verifier["clarified_on"] == clarified["clarification"]["clarified_on"]
    assert (await _clarify(system, case_id, {"outcome": "declined"})).status_code == 409  # once
    assert await _outbox(system) == 2

    # No catalogue entry for the case's violation yet: the examiner must name the category.
    unknown = await _examine(system, case_id, {"outcome": "proven", "reason": "Terbukti."})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "category"
    assert await _outbox(system) == 2

    # Intake publishes the catalogue; the case's heaviest violation (DISIPLIN-KAMPANYE, moderate, over
    # ETIK-MEDSOS, an open moral statement) then fills in the finding. (The harness gave intake the seed's
    # tables without their events; emptied here, the catalogue is imported as new, and so published.)
    await system.execute("intake", "DELETE FROM violations")
    imported = await import_reference(system.databases.url("intake"), "violations", SEED_VIOLATIONS)
    await eventually(lambda: _catalogue_size(system, imported.rows), 15, "catalogue projected")
    examined = await _examine(system, case_id, {"outcome": "proven", "reason": "Terbukti ikut kampanye pasangan calon."})
    assert examined.status_code == 201, examined.text
    examination = examined.json()["examination"]
    year = dt.datetime.fromisoformat(examination["examined_at"]).year
    assert examination["recommendation_number"] == f"REK-{year}-000001"
    assert examination["examining_authority"] == "BKN"
    assert (await _examine(system, case_id, {"outcome": "not_proven", "reason": "x"})).status_code == 409

    summary = await _status_stage(system, nip, case_id, "awaiting_ppk")
    reasons = {change["stage"]: change["reason"] for change in summary["history"]}
    assert reasons["awaiting_examination"] == "Bukti video dan saksi cukup."
    assert reasons["awaiting_ppk"] == "discipline / moderate (PP 94/2021 pasal 5 huruf n angka 1)"
    timeline = await _timeline(system, case_id)
    events = {e["type"]: e["data"] for e in timeline["events"]}
    assert list(events) == ["sbt.case.opened.v1", "sbt.report.received.v1", "sbt.case.verification_decided.v1",
                            "sbt.case.clarification_recorded.v1", "sbt.case.examined.v1", "sbt.recommendation.issued.v1"]
    # The timeline shows the clarification, given and when, to every reader; its words to none (they never
    # leave the recommendation service: only their hash is in the ledger).
    heard = events["sbt.case.clarification_recorded.v1"]
    assert heard["outcome"] == "given" and heard["clarified_on"] == clarified["clarification"]["clarified_on"]
    assert heard["summary_sha256"] == hashlib.sha256(CLARIFICATION_SUMMARY.encode()).hexdigest()
    assert CLARIFICATION_SUMMARY not in str(timeline)
    assert events["sbt.case.examined.v1"]["reason"] == "Terbukti ikut kampanye pasangan calon."
    assert events["sbt.recommendation.issued.v1"]["recommendation_number"] == f"REK-{year}-000001"
    assert events["sbt.recommendation.issued.v1"]["agency_code"] == "PEMPROV-JABAR"


async def test_the_other_branches_close_the_case_at_their_stage_with_the_reason(make_system):
    system = await make_system("intake", "recommendation", "status")
    nip = random_nip()
    # One civil servant, four elections: four cases, each taking another branch.
    closing = {"rejected": "PILKADA-2024", "cancelled": "PEMILU-2024", "out_of_service": "PILKADA-2020"}
    cases = {outcome: await _file(system, nip, election_code=election) for outcome, election in closing.items()}
    cases["not_proven"] = await _file(system, nip, election_code="PEMILU-2019")
    raced = await _file(system, nip, election_code="PILKADA-2018")
    for case_id in [*cases.values(), raced]:
        await _known(system, case_id)

    # The worklist pages through all five, oldest first, in pages of two.
    seen, after = [], None
    for expected_size in (2, 2, 1):
        page = await _worklist(system, "awaiting_verification", limit=2, **({"after": after} if after else {}))
        assert len(page["items"]) == expected_size
        seen += [item["case_id"] for item in page["items"]]
        after = page["next_cursor"]
    assert after is None and seen == sorted([*cases.values(), raced])
    async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
        too_big = await client.get("/v1/cases", params={"stage": "awaiting_verification", "limit": 500})
    assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "query.limit"

    # Three verifiers deciding the same case at once: one decision wins, the others are told so.
    answers = await asyncio.gather(*(_verify(system, raced, outcome) for outcome in ("accepted", "rejected", "cancelled")))
    assert sorted(answer.status_code for answer in answers) == [201, 409, 409]

    for outcome in closing:
        response = await _verify(system, cases[outcome], outcome, reason=f"Alasan: {outcome}.")
        assert response.status_code == 201, response.text
        assert response.json()["stage"] == outcome
    assert (await _verify(system, cases["not_proven"], "accepted")).status_code == 201
    with_a_level = await _examine(system, cases["not_proven"], {"outcome": "not_proven", "sanction_level": "light",
                                                                 "reason": "x"})
    assert with_a_level.status_code == 422 and with_a_level.json()["errors"][0]["field"] == "sanction_level"
    closed = await _examine(system, cases["rejected"], {"outcome": "proven", **DISCIPLINE, "reason": "x"})
    assert closed.status_code == 409 and "closed at verification (rejected)" in closed.json()["detail"]
    not_proven = await _examine(system, cases["not_proven"], {"outcome": "not_proven", "reason": "Tidak terbukti."})
    assert not_proven.status_code == 201, not_proven.text
    assert not_proven.json()["examination"]["recommendation_number"] is None

    # Three examinations at once: three different recommendation numbers, none skipped.
    proven = [await _file(system, nip, election_code=election) for election in ("PEMILU-2014", "PILKADA-2015", "PILKADA-2017")]
    for case_id in proven:
        await _known(system, case_id)
        assert (await _verify(system, case_id, "accepted")).status_code == 201
        await record_clarification(system, case_id)
    answers = await asyncio.gather(*(_examine(system, case_id, {"outcome": "proven", **DISCIPLINE, "reason": "Terbukti."})
                                     for case_id in proven))
    assert [answer.status_code for answer in answers] == [201, 201, 201]
    numbers = sorted(answer.json()["examination"]["recommendation_number"].rsplit("-", 1)[1] for answer in answers)
    assert numbers == ["000001", "000002", "000003"]

    for outcome, case_id in cases.items():
        summary = await _status_stage(system, nip, case_id, outcome)
        assert summary["open"] is False
        expected = "Tidak terbukti." if outcome == "not_proven" else f"Alasan: {outcome}."
        assert summary["history"][-1]["reason"] == expected
    # A not-proven case issues no recommendation; each decision staged its events once.
    assert await system.scalar(
        "recommendation", "SELECT count(*) FROM outbox WHERE event_type = 'sbt.recommendation.issued.v1'") == 3
    assert await system.scalar(
        "recommendation", "SELECT count(*) FROM outbox WHERE event_type = 'sbt.recommendation.issued.v1' "
        "AND envelope LIKE :case", case=f"%{cases['not_proven']}%") == 0
    assert await system.scalar("recommendation", "SELECT count(*) FROM outbox") == 6 + 3 * 4


async def test_the_examining_authority_follows_the_date_kasn_before_24_august_2024_and_bkn_after(make_system):
    # The last minute of 23 Aug 2024 in Jakarta (16:59 UTC); then the first minute of the 24th, by
    # restarting the same service with another pinned clock: no code or configuration change between.
    system = await make_system("intake", "recommendation",
                               extra_env={"SBT_CLOCK_FIXED": "2024-08-23T23:59:00+07:00"})
    nip = random_nip()
    before = await _file(system, nip, incident_date="2024-08-01", election_code="PILKADA-2024")
    after = await _file(system, nip, incident_date="2024-08-01", election_code="PEMILU-2024")
    for case_id in (before, after):
        await _known(system, case_id)
        assert (await _verify(system, case_id, "accepted")).status_code == 201
    body = {"outcome": "proven", **DISCIPLINE, "reason": "Terbukti."}

    assert (await _authority(system))["examining_authority"]["agency"] == "KASN"
    refused = await _examine(system, before, body, agency="BKN")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "BKN is not the examining authority on 2024-08-23; on that day it is KASN"
    await record_clarification(system, before, agency="KASN")
    by_kasn = await _examine(system, before, body, agency="KASN")
    assert by_kasn.status_code == 201, by_kasn.text
    assert by_kasn.json()["examination"]["examining_authority"] == "KASN"
    assert by_kasn.json()["examination"]["recommendation_number"] == "REK-2024-000001"

    recommendation = system["recommendation"]
    recommendation.stop()
    recommendation.env = {**recommendation.env, "SBT_CLOCK_FIXED": "2024-08-24T00:01:00+07:00"}
    recommendation.start()

    assert (await _authority(system))["examining_authority"]["agency"] == "BKN"
    assert (await _authority(system, on="2024-08-23"))["examining_authority"]["agency"] == "KASN"
    refused = await _examine(system, after, body, agency="KASN")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "KASN is not the examining authority on 2024-08-24; on that day it is BKN"
    await record_clarification(system, after)
    by_bkn = await _examine(system, after, body, agency="BKN")
    assert by_bkn.status_code == 201, by_bkn.text
    assert by_bkn.json()["examination"]["examining_authority"] == "BKN"
    assert by_bkn.json()["examination"]["recommendation_number"] == "REK-2024-000002"
    authorities = await system.scalar(
        "recommendation",
        "SELECT count(DISTINCT examining_authority) FROM cases WHERE examining_authority IS NOT NULL")
    assert authorities == 2
