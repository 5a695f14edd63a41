"""A BKN regional office (Kantor Regional III, Bandung: Jawa Barat) sees its region's cases, deadlines and
early warnings and nothing of another region's, through every door (the status and timeline API, the PPK
worklist, the follow-ups, the figures, the dashboard's pages, notify), and writes nothing. A bkn_regional
token without a known office sees nothing. Every service a real process, on a real database and NATS."""

from __future__ import annotations

import jwt
import pytest

from shared.regions import agencies_of_office
from tests.e2e.accounts import PASSWORD, browser, sign_in, user_cli
from tests.e2e.reports import random_nip, report_body
from tests.harness.cases import record_clarification
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

BANDUNG, JATENG = "KOTA-BANDUNG", "PEMPROV-JATENG"  # Jawa Barat (Kanreg III), Jawa Tengah (Kanreg I)
PROVEN = {"outcome": "proven", "category": "ethics", "sanction_level": "moral_open",
          "legal_basis": "PP 42/2004 pasal 11", "reason": "Terbukti."}


async def _ok(system, service: str, method: str, path: str, token: str, body: dict | None = None,  # noqa: ANN001
              expect: int = 200):
    async with system.client(service, token) as client:
        answer = await client.request(method, path, json=body)
    assert answer.status_code == expect, (path, answer.status_code, answer.text)
    return answer


async def _awaiting_ppk(system, agency: str, province: str) -> tuple[str, str]:  # noqa: ANN001
    """A case of ``agency`` driven to its PPK (deadline set by the sanction service): (case id, NIP)."""
    nip = random_nip()
    filed = await _ok(system, "intake", "POST", "/v1/reports", system.token("BAWASLU", "reporter"),
                      report_body(nip, agency_code=agency, province=province), expect=201)
    case = filed.json()["case_id"]
    verifier, examiner = system.token("BAWASLU", "verifier"), system.token("BKN", "examiner")

    async def known():
        async with system.client("recommendation", verifier) as client:
            return (await client.get(f"/v1/cases/{case}")).status_code == 200

    await eventually(known, 20, "the case known to recommendation")
    await _ok(system, "recommendation", "POST", f"/v1/cases/{case}/verification", verifier,
              {"outcome": "accepted", "reason": "Bukti cukup."}, expect=201)
    await record_clarification(system, case)
    await _ok(system, "recommendation", "POST", f"/v1/cases/{case}/examination", examiner, PROVEN, expect=201)
    observer = system.token("BKN", "observer")

    async def deadline_known():
        async with system.client("status", observer) as client:
            answer = await client.get(f"/v1/cases/{case}/timeline")
        events = answer.json()["events"] if answer.status_code == 200 else []
        return any(e["type"] == "sbt.followup.deadline_set.v1" for e in events)

    await eventually(deadline_known, 30, "the PPK's deadline in the status")
    async with system.client("sanction", observer) as client:
        await eventually(lambda: _has_followup(client, case), 20, "the follow-up obligation")
    return case, nip


async def _has_followup(client, case: str) -> bool:  # noqa: ANN001
    return (await client.get(f"/v1/followups/{case}")).status_code == 200


async def test_kanreg_iii_sees_its_region_only_through_every_door_and_writes_nothing(make_system):
    system = await make_system("intake", "recommendation", "sanction", "status", "notify",
                               reference_data="published")
    own, own_nip = await _awaiting_ppk(system, BANDUNG, "JAWA BARAT")
    other, other_nip = await _awaiting_ppk(system, JATENG, "JAWA TENGAH")
    kanreg = system.token("BKN", "bkn_regional", bkn_office="III")

    # The status of a civil servant (the hot path) and a case's timeline.
    seen = (await _ok(system, "status", "GET", f"/v1/asn/{own_nip}/status", kanreg)).json()
    assert [c["case_id"] for c in seen["cases"]] == [own]
    unseen = (await _ok(system, "status", "GET", f"/v1/asn/{other_nip}/status", kanreg)).json()
    assert unseen["cases"] == [] and unseen["open_cases"] == 0
    timeline = (await _ok(system, "status", "GET", f"/v1/cases/{own}/timeline", kanreg)).json()
    assert "sbt.followup.deadline_set.v1" in [e["type"] for e in timeline["events"]]
    await _ok(system, "status", "GET", f"/v1/cases/{other}/timeline", kanreg, expect=404)

    # The PPK worklist of its region's agencies, with deadlines; another region's is refused.
    worklist = (await _ok(system, "status", "GET", f"/v1/agencies/{BANDUNG}/cases", kanreg)).json()
    assert own in [c["case_id"] for c in worklist["cases"]]
    await _ok(system, "status", "GET", f"/v1/agencies/{JATENG}/cases", kanreg, expect=403)

    # The follow-up obligations (deadlines, early warnings): the region's only.
    listed = (await _ok(system, "sanction", "GET", "/v1/followups", kanreg)).json()
    assert own in [f["case_id"] for f in listed["items"]] and other not in [f["case_id"] for f in listed["items"]]
    assert {f["agency_code"] for f in listed["items"]} <= agencies_of_office("III")
    own_followup = (await _ok(system, "sanction", "GET", f"/v1/followups/{own}", kanreg)).json()
    assert own_followup["due_date"]
    await _ok(system, "sanction", "GET", f"/v1/followups/{other}", kanreg, expect=403)
    await _ok(system, "sanction", "GET", f"/v1/followups?agency={JATENG}", kanreg, expect=403)

    # The figures of its region.
    figures = (await _ok(system, "status", "GET", "/v1/stats", kanreg)).json()
    assert BANDUNG in figures["by_agency"] and JATENG not in figures["by_agency"]
    assert set(figures["by_province"]) <= {"JAWA BARAT"}
    national = (await _ok(system, "status", "GET", "/v1/stats", system.token("BKN", "observer"))).json()
    assert JATENG in national["by_agency"]  # the figure exists; the region just does not see it
    await _ok(system, "status", "GET", f"/v1/stats?agency={JATENG}", kanreg, expect=403)

    # The dashboard (Bahasa Indonesia by default): the overview, the case pages, the obligations queue.
    overview = await _ok(system, "status", "GET", "/dashboard", kanreg)
    assert own in overview.text and other not in overview.text and 'lang="id"' in overview.text
    page = await _ok(system, "status", "GET", f"/dashboard/cases/{own}", kanreg)
    assert own_nip in page.text
    refused = await _ok(system, "status", "GET", f"/dashboard/cases/{other}", kanreg, expect=404)
    assert other_nip not in refused.text
    queue = await _ok(system, "status", "GET", "/dashboard/obligations", kanreg)
    assert own in queue.text and other not in queue.text
    await _ok(system, "status", "GET", f"/dashboard/obligations?agency={JATENG}", kanreg, expect=403)
    nip_page = await _ok(system, "status", "GET", f"/dashboard/nip?nip={other_nip}", kanreg)
    assert other not in nip_page.text
    english = await _ok(system, "status", "GET", "/dashboard?lang=en", kanreg)
    assert 'lang="en"' in english.text and own in english.text and other not in english.text

    # Notify: no webhook subscription or feed for a regional office (it reads, through the doors above).
    await _ok(system, "notify", "POST", "/v1/subscriptions", kanreg,
              {"url": "https://example.org/hook", "event_types": ["sbt.case.opened.v1"]}, expect=403)
    await _ok(system, "notify", "GET", "/v1/subscriptions", kanreg, expect=403)

    # Writes nothing: not a follow-up, a deadline, a verification, an examination, a report.
    for service, path, body in (
        ("sanction", f"/v1/cases/{own}/followup", {"decree_number": "800/1/BKD/2024", "decree_date": "2024-11-01",
                                                     "sanction_level": "moral_open", "effective_from": "2024-11-01"}),
        ("sanction", f"/v1/cases/{own}/deadline/extend", {"working_days": 5, "reason": "x"}),
        ("recommendation", f"/v1/cases/{own}/clarification", {"outcome": "declined"}),
        ("recommendation", f"/v1/cases/{own}/examination", PROVEN),
        ("intake", "/v1/reports", report_body(random_nip(), agency_code=BANDUNG)),
    ):
        await _ok(system, service, "POST", path, kanreg, body, expect=403)


async def test_a_regional_token_without_a_known_office_sees_nothing(make_system):
    system = await make_system("intake", "recommendation", "sanction", "status", reference_data="published")
    own, own_nip = await _awaiting_ppk(system, BANDUNG, "JAWA BARAT")
    for office in (None, "XV"):
        token = system.token("BKN", "bkn_regional", bkn_office=office)
        assert (await _ok(system, "status", "GET", f"/v1/asn/{own_nip}/status", token)).json()["cases"] == []
        await _ok(system, "status", "GET", f"/v1/cases/{own}/timeline", token, expect=404)
        await _ok(system, "status", "GET", f"/v1/agencies/{BANDUNG}/cases", token, expect=403)
        await _ok(system, "status", "GET", "/v1/stats", token, expect=403)
        await _ok(system, "sanction", "GET", "/v1/followups", token, expect=403)
        await _ok(system, "sanction", "GET", f"/v1/followups/{own}", token, expect=403)
        await _ok(system, "status", "GET", "/dashboard", token, expect=403)
        await _ok(system, "status", "GET", f"/dashboard/cases/{own}", token, expect=404)


async def test_the_office_travels_from_the_account_into_the_session_and_scopes_it(make_system):
    system = await make_system("identity", "intake", "recommendation", "sanction", "status",
                               reference_data="published")
    own, own_nip = await _awaiting_ppk(system, BANDUNG, "JAWA BARAT")
    other, _ = await _awaiting_ppk(system, JATENG, "JAWA TENGAH")
    refused = user_cli(system, "add", "--username", "kanreg.x", "--agency", "BKN", "--role", "bkn_regional",
                       "--bkn-office", "XV", password=PASSWORD)
    assert refused.returncode == 2 and "bkn_office" in refused.stderr, refused.stderr
    made = user_cli(system, "add", "--username", "kanreg3.bkn", "--agency", "BKN", "--role", "bkn_regional",
                    "--bkn-office", "III", password=PASSWORD)
    assert made.returncode == 0, made.stderr

    async with system.client("identity") as identity:
        session = await identity.post("/v1/sessions", json={"username": "kanreg3.bkn", "password": PASSWORD})
    assert session.status_code == 200, session.text
    token = session.json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["bkn_office"] == "III"
    await _ok(system, "status", "GET", f"/v1/cases/{own}/timeline", token)
    await _ok(system, "status", "GET", f"/v1/cases/{other}/timeline", token, expect=404)

    async with browser(system) as tab:  # signed in through the dashboard's form, as a person does
        signed = await sign_in(tab, "kanreg3.bkn")
        assert signed.status_code == 303, signed.text
        assert own_nip in (await tab.get(f"/dashboard/cases/{own}")).text
        assert (await tab.get(f"/dashboard/cases/{other}")).status_code == 404
        overview = await tab.get("/dashboard")
        assert own in overview.text and other not in overview.text
