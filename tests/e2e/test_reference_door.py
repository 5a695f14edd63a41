"""Reference data is law at the door, on the real intake (its hot path and its route) and real databases:
unknown references and impossible dates are refused with a 422 naming the field and write nothing; no
door takes a number for a date; a public report without a NIP is pointed to SP4N-LAPOR!; and intake reads
the time from the injectable clock."""

from __future__ import annotations

import pytest

from tests.e2e.reports import random_nip, report_body

pytestmark = pytest.mark.e2e


async def _reports(system) -> int:
    return await system.scalar("intake", "SELECT count(*) FROM reports")


async def test_unknown_references_and_impossible_dates_are_refused_naming_the_field(make_system):
    system = await make_system("intake", "recommendation")
    refused = {
        "election_code": report_body(election_code="PEMILU-1955"),
        "agency_code": report_body(agency_code="NO-SUCH-AGENCY"),
        "violation_codes.0": report_body(violation_codes=["NO-SUCH-VIOLATION"]),
        "province": report_body(province="ATLANTIS"),
        "incident_date": report_body(incident_date="2023-12-31"),  # before PILKADA-2024's period
    }
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        for field, body in refused.items():
            answer = await client.post("/v1/reports", json=body)
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["errors"][0]["field"] == field, answer.text
        outside = await client.post("/v1/reports", json=report_body(election_code="PILKADA-2020", province="JAWA BARAT",
                                                                    agency_code="PEMPROV-JABAR"))
        assert outside.status_code == 422
        assert outside.json()["errors"] == [{"field": "province", "reason": "JAWA BARAT is not a region of PILKADA-2020"}]
        # Numbers are not dates (lax parsing took 0 for 1 January 1970), at the hot path and the route alike.
        for value in (0, 0.0, "0", "1700000000", "2024-02-30"):
            answer = await client.post("/v1/reports", json=report_body(incident_date=value))
            assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "incident_date", answer.text
        # An Idempotency-Key of a refused report is not spent: the corrected report is filed under it.
        key = {"Idempotency-Key": "bawaslu-0001"}
        assert (await client.post("/v1/reports", json=report_body(agency_code="X-1"), headers=key)).status_code == 422
        assert await _reports(system) == 0, "a refused report writes nothing"
        filed = await client.post("/v1/reports", json=report_body(random_nip()), headers=key)
        assert filed.status_code == 201, filed.text
        # The public form obeys the same rule.
        public = await client.post("/v1/public/reports", json={k: v for k, v in report_body(
            election_code="PEMILU-1955").items() if k != "reporter"})
        assert public.status_code == 422 and public.json()["errors"][0]["field"] == "election_code"
        # A public report that cannot name the civil servant belongs to SP4N-LAPOR!: the answer says where.
        for nip in (None, "", "  "):
            body = {k: v for k, v in report_body().items() if k not in ("reporter", "nip")}
            answer = await client.post("/v1/public/reports", json=body if nip is None else {**body, "nip": nip})
            assert answer.status_code == 422, answer.text
            problem = answer.json()
            assert problem["lapor_url"] == "https://www.lapor.go.id"
            assert problem["errors"][0]["field"] == "nip" and "SP4N-LAPOR!" in problem["errors"][0]["reason"]
        # A NIP that is given but wrong is a typing slip, answered as such.
        wrong = await client.post("/v1/public/reports", json={**body, "nip": "12345"})
        assert wrong.status_code == 422 and "lapor_url" not in wrong.json()
    assert await _reports(system) == 1

    async with system.client("recommendation", system.token("BKN", "examiner")) as client:
        for value in ("0.0", "0", "1700000000"):
            answer = await client.get("/v1/role-assignments", params={"on": value})
            assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "query.on", answer.text
        assert (await client.get("/v1/role-assignments", params={"on": "2024-08-24"})).json()[
            "examining_authority"]["agency"] == "BKN"


async def test_a_drill_pinned_to_2020_opens_its_cases_and_numbers_its_complaints_in_2020(make_system):
    system = await make_system("intake", extra_env={"SBT_CLOCK_FIXED": "2020-11-26T10:00:00+07:00",
                                                    "SBT_LAPOR_URL": "https://lapor.example.go.id/aduan"})
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        filed = await client.post("/v1/reports", json=report_body(election_code="PILKADA-2020",
                                                                  incident_date="2020-11-20"))
        assert filed.status_code == 201, filed.text
        assert filed.json()["complaint_number"].startswith("SBT-2020-")
        # The day after the pinned today is the future, whatever the machine's own clock says.
        future = await client.post("/v1/reports", json=report_body(election_code="PILKADA-2020",
                                                                   incident_date="2020-11-28"))
        assert future.status_code == 422 and future.json()["errors"] == [
            {"field": "incident_date", "reason": "must not be in the future"}]
        # Where reports without a NIP go is configuration.
        body = {k: v for k, v in report_body().items() if k not in ("reporter", "nip")}
        answer = await client.post("/v1/public/reports", json=body)
        assert answer.status_code == 422 and answer.json()["lapor_url"] == "https://lapor.example.go.id/aduan"
    opened = await system.scalar("intake", "SELECT opened_at FROM cases")
    received = await system.scalar("intake", "SELECT received_at FROM reports")
    assert str(opened).startswith("2020-11-26") and str(received).startswith("2020-11-26")
