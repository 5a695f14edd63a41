"""Presumption of innocence at the public doors: the complaint check (``GET /v1/public/complaints/{number}``)
and the public figures never name or identify the reported civil servant: no NIP, no name, no agency-level
detail that points at one person, not even once the case is proven and recommended, on the real answers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.intake.reference.importer import import_roster
from tests.e2e.reports import report_body
from tests.harness.cases import CLARIFICATION_SUMMARY, record_clarification
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

SEED = Path(__file__).resolve().parents[2] / "deploy" / "seed"
# A civil servant of the shipped sample roster: the only case of their agency and province.
NIP, NAME, AGENCY, AGENCY_NAME = "199708242023052001", "Maria Rahayu", "PEMPROV-JATENG", "Pemerintah Provinsi Jawa Tengah"


def _identifying(text: str, *also: str) -> list[str]:
    spaced = f"{NIP[:8]} {NIP[8:14]} {NIP[14]} {NIP[15:]}"
    return [clue for clue in (NIP, spaced, NAME, AGENCY, AGENCY_NAME, CLARIFICATION_SUMMARY, *also) if clue in text]


async def test_public_answers_never_identify_the_reported_civil_servant(make_system):
    system = await make_system("intake", "recommendation", "status", reference_data="published")
    imported = await import_roster(system.databases.url("intake"), SEED / "roster-sample.csv")
    assert imported.imported > 0
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        filed = await client.post("/v1/reports", json=report_body(NIP, agency_code=AGENCY, province="JAWA TENGAH"))
    assert filed.status_code == 201, filed.text
    case, number = filed.json()["case_id"], filed.json()["complaint_number"]
    verifier, examiner = system.token("BAWASLU", "verifier"), system.token("BKN", "examiner")

    async def known():
        async with system.client("recommendation", verifier) as client:
            return (await client.get(f"/v1/cases/{case}")).status_code == 200

    await eventually(known, 20, "the case known to recommendation")
    async with system.client("recommendation", verifier) as client:
        assert (await client.post(f"/v1/cases/{case}/verification",
                                  json={"outcome": "accepted", "reason": "Bukti cukup."})).status_code == 201
    await record_clarification(system, case)
    async with system.client("recommendation", examiner) as client:
        examined = await client.post(f"/v1/cases/{case}/examination", json={
            "outcome": "proven", "category": "ethics", "sanction_level": "moral_open",
            "legal_basis": "PP 42/2004 pasal 11", "reason": "Terbukti."})
    assert examined.status_code == 201, examined.text
    recommendation = examined.json()["examination"]["recommendation_number"]

    async with httpx.AsyncClient(base_url=system["intake"].url, timeout=10) as anyone:
        async def recommended():
            answer = await anyone.get(f"/v1/public/complaints/{number}")
            return answer if answer.status_code == 200 and answer.json()["stage"] != "awaiting_verification" \
                and answer.json()["stage"] != "awaiting_examination" else None

        checked = await eventually(recommended, 30, "the public stage past the examination")
    assert set(checked.json()) == {"stage"}  # the stage, and nothing else
    assert _identifying(checked.text, case, recommendation) == []

    async with httpx.AsyncClient(base_url=system["status"].url, timeout=10) as anyone:
        async def counted():
            answer = await anyone.get("/v1/public/figures")
            return answer if answer.status_code == 200 and AGENCY in answer.json()["by_agency"] else None

        figures = await eventually(counted, 20, "the case in the public figures")
        body = figures.json()
        # The agency's and province's one case is a cell that would point at a person: withheld.
        assert body["by_agency"][AGENCY]["reported"] is None
        assert body["by_province"]["JAWA TENGAH"]["reported"] is None
        for part in ("by_agency", "by_province", "by_election"):
            for key, funnel in body[part].items():
                for name, value in funnel.items():
                    assert value is None or value == 0 or value >= body["min_cell"], (part, key, name, value)
        # The agency's key stays, its every count withheld (the figures' suppression: services/status/
        # public_figures.py); beyond that key nothing of the case or the person.
        assert all(value is None or value == 0 for value in body["by_agency"][AGENCY].values())
        assert _identifying(figures.text.replace(f'"{AGENCY}"', ""), case, recommendation) == []
        for path in ("/dashboard/public", "/dashboard/public?lang=en"):
            page = await anyone.get(path)
            assert page.status_code == 200
            assert [clue for clue in _identifying(page.text, case, recommendation) if clue != AGENCY_NAME] == [], path
