"""A BKN regional office (Kantor Regional III, Bandung: Jawa Barat) sees its region's cases, deadlines and
early warnings and nothing of another region's, through every door (the status and timeline API, the PPK
worklist, the follow-ups, the figures, the dashboard's pages, notify), and writes nothing but reminders to its
region's PPKs. A bkn_regional
token without a known office sees nothing. Every service a real process, on a real database and NATS."""

from __future__ import annotations

import subprocess
import sys
import asyncio
import json

import jwt
import pytest

from shared.regions import agencies_of_office
from tests.e2e.accounts import PASSWORD, browser, sign_in, user_cli
from tests.e2e.reports import random_nip, report_body
from tests.harness.cases import record_clarification
from tests.harness.ports import eventually
from tests.harness.system import ROOT
from tests.harness.webhook_receiver import WebhookReceiver

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

    # Notify: a subscription may not be widened by a filter to another region's agency.
    widened = await _ok(system, "notify", "POST", "/v1/subscriptions", kanreg,
                        {"url": "https://example.org/hook", "agency_codes": [JATENG]}, expect=422)
    assert widened.json()["errors"][0]["field"] == "agency_codes.0"

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


async def test_an_agency_registered_after_start_is_in_the_office_of_its_province(make_system, tmp_path):
    system = await make_system("intake", "recommendation", "sanction", "status", "notify",
                               reference_data="published", extra_env={"SBT_WEBHOOK_ALLOW_HOSTS": "127.0.0.1"})
    new = "KAB-SUMEDANG-BARU"  # not in the seed: only the registry puts it in Jawa Barat, Kanreg III's
    assert new not in agencies_of_office("III")
    roster = tmp_path / "agencies.csv"
    roster.write_text("code,name,level,province,ppk_title,ppk_name\n"
                      f"{new},Pemerintah Kabupaten Sumedang Baru,regency,JAWA BARAT,Bupati Sumedang Baru,\n")
    imported = subprocess.run([sys.executable, "-m", "services.cli", "import", "agencies", str(roster)],
                              env=system.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert "1 new" in imported.stderr, imported.stderr

    kanreg_iii = system.token("BKN", "bkn_regional", bkn_office="III")
    kanreg_i = system.token("BKN", "bkn_regional", bkn_office="I")
    with WebhookReceiver() as hook_iii, WebhookReceiver() as hook_i:
        for token, hook in ((kanreg_iii, hook_iii), (kanreg_i, hook_i)):
            async with system.client("notify", token) as client:
                assert (await client.post("/v1/subscriptions", json={"url": hook.url})).status_code == 201
        case, nip = await _awaiting_ppk(system, new, "JAWA BARAT")
        # Notify, too, follows the registry: Kanreg III's webhook gets the new agency's case, Kanreg I's not.
        await eventually(lambda: _received(hook_iii, "sbt.recommendation.issued.v1"), 30,
                         "the new agency's recommendation at Kanreg III's webhook")
        await asyncio.sleep(0.5)
        assert case not in {json.loads(r.body)["data"].get("case_id") for r in hook_i.received}

    async def seen_by_iii():
        answer = (await _ok(system, "status", "GET", f"/v1/asn/{nip}/status", kanreg_iii)).json()
        return [c["case_id"] for c in answer["cases"]] == [case] or None

    await eventually(seen_by_iii, 30, "the new agency's case seen by Kanreg III")
    await _ok(system, "status", "GET", f"/v1/cases/{case}/timeline", kanreg_iii)
    worklist = (await _ok(system, "status", "GET", f"/v1/agencies/{new}/cases", kanreg_iii)).json()
    assert case in [c["case_id"] for c in worklist["cases"]]
    # The follow-up obligation (deadline, early warnings) at the sanction service, whose registry is its own.
    listed = (await _ok(system, "sanction", "GET", "/v1/followups", kanreg_iii)).json()
    assert case in [f["case_id"] for f in listed["items"]]
    await _ok(system, "sanction", "GET", f"/v1/followups/{case}", kanreg_iii)
    # Another office sees none of it, through the same doors.
    assert (await _ok(system, "status", "GET", f"/v1/asn/{nip}/status", kanreg_i)).json()["cases"] == []
    await _ok(system, "status", "GET", f"/v1/cases/{case}/timeline", kanreg_i, expect=404)
    await _ok(system, "status", "GET", f"/v1/agencies/{new}/cases", kanreg_i, expect=403)
    assert case not in [f["case_id"] for f in (await _ok(system, "sanction", "GET", "/v1/followups",
                                                         kanreg_i)).json()["items"]]
    await _ok(system, "sanction", "GET", f"/v1/followups/{case}", kanreg_i, expect=403)


async def _received(receiver: WebhookReceiver, event_type: str) -> list[dict]:
    return [json.loads(r.body) for r in receiver.of_type(event_type)]


async def test_kanreg_reminds_its_regions_ppk_and_the_reminder_is_on_the_timeline(make_system):
    system = await make_system("intake", "recommendation", "sanction", "status", "notify",
                               reference_data="published",
                               extra_env={"SBT_CLOCK_FIXED": "2026-03-02T03:00:00+00:00",
                                          "SBT_WEBHOOK_ALLOW_HOSTS": "127.0.0.1"})
    kanreg = system.token("BKN", "bkn_regional", bkn_office="III")
    with WebhookReceiver() as region_hook, WebhookReceiver() as ppk_hook:
        # The Kanreg and the PPK of Bandung subscribe before anything happens: each within its own scope.
        async with system.client("notify", kanreg) as client:
            made = await client.post("/v1/subscriptions", json={"url": region_hook.url})
        assert made.status_code == 201 and made.json()["scope_office"] == "III", made.text
        assert made.json()["scope_agency"] is None
        async with system.client("notify", system.token(BANDUNG, "ppk", ppk_agency=BANDUNG)) as client:
            assert (await client.post("/v1/subscriptions", json={"url": ppk_hook.url})).status_code == 201
        own, _ = await _awaiting_ppk(system, BANDUNG, "JAWA BARAT")
        other, _ = await _awaiting_ppk(system, JATENG, "JAWA TENGAH")
        await _remind(system, kanreg, own, other)

        # The region's webhook: its agencies' events only, never the reporter's identity; the PPK's
        # webhook: the reminder addressed to it.
        reminders = await eventually(lambda: _received(ppk_hook, "sbt.followup.ppk_reminded.v1"), 20,
                                     "the reminder at the PPK's webhook")
        assert reminders[0]["data"]["case_id"] == own and reminders[0]["data"]["reminded_by_office"] == "III"
        await eventually(lambda: _received(region_hook, "sbt.followup.ppk_reminded.v1"), 20, "the region's copy")
        await asyncio.sleep(0.5)
        delivered = [json.loads(r.body) for r in region_hook.received]
        assert own in {e["data"].get("case_id") for e in delivered}
        assert {e["data"].get("agency_code") for e in delivered if e["data"].get("agency_code")} <= \
            agencies_of_office("III")
        assert other not in {e["data"].get("case_id") for e in delivered}
        assert not any(b"Siti Rahmawati" in r.body or b"siti@example.org" in r.body for r in region_hook.received)
        assert not any(e["data"].get("case_id") == other for e in (json.loads(r.body) for r in ppk_hook.received))


async def _remind(system, kanreg: str, own: str, other: str) -> None:  # noqa: ANN001
    message = {"message": "Mohon segera menetapkan keputusan hukuman disiplin."}

    sent = (await _ok(system, "sanction", "POST", f"/v1/cases/{own}/reminders", kanreg, message, expect=201)).json()
    assert sent["reminded_by_office"] == "III" and sent["reminded_by_agency"] == "BKN"
    assert sent["reminded_at"].startswith("2026-03-02T03:00:00") and sent["state"] == "pending"

    # Another region's case answers exactly as a case that does not exist.
    unseen = await _ok(system, "sanction", "POST", f"/v1/cases/{other}/reminders", kanreg, message, expect=404)
    missing = await _ok(system, "sanction", "POST", "/v1/cases/NOSUCHCASE/reminders", kanreg, message, expect=404)
    assert unseen.json()["detail"].replace(other, "X") == missing.json()["detail"].replace("NOSUCHCASE", "X")
    # Without a known office: nothing to remind; a PPK or an observer may not remind at all.
    for token in (system.token("BKN", "bkn_regional", bkn_office="XV"),):
        await _ok(system, "sanction", "POST", f"/v1/cases/{own}/reminders", token, message, expect=404)
    for token in (system.token(BANDUNG, "ppk", ppk_agency=BANDUNG), system.token("BKN", "observer")):
        await _ok(system, "sanction", "POST", f"/v1/cases/{own}/reminders", token, message, expect=403)
    # A message is required and short.
    bad = await _ok(system, "sanction", "POST", f"/v1/cases/{own}/reminders", kanreg, {"message": " "}, expect=422)
    assert "message" in bad.text
    # BKN's blocking desk may remind for any region.
    blocker = system.token("BKN", "blocker")
    desk = (await _ok(system, "sanction", "POST", f"/v1/cases/{other}/reminders", blocker, message,
                      expect=201)).json()
    assert desk["reminded_by_office"] is None

    async def reminded():
        answer = await _ok(system, "status", "GET", f"/v1/cases/{own}/timeline", kanreg)
        return [e for e in answer.json()["events"] if e["type"] == "sbt.followup.ppk_reminded.v1"]

    events = await eventually(reminded, 20, "the reminder on the case's timeline")
    assert events[0]["data"]["reminded_by_office"] == "III" and events[0]["data"]["message"] == message["message"]
    page = await _ok(system, "status", "GET", f"/dashboard/cases/{own}", kanreg)
    assert "BKN mengingatkan PPK" in page.text
    # While the sanction is owed, the case page offers the Kanreg the reminder (not the observer).
    assert 'data-action="reminder"' in page.text and "Kirim pengingat ke PPK" in page.text
    watched = await _ok(system, "status", "GET", f"/dashboard/cases/{own}", system.token("BKN", "observer"))
    assert 'data-action="reminder"' not in watched.text

    # Once the PPK recorded its decree, no sanction is awaited: a 409 that says why.
    ppk = system.token(BANDUNG, "ppk", ppk_agency=BANDUNG)
    await _ok(system, "sanction", "POST", f"/v1/cases/{own}/followup", ppk,
              {"decree_number": "800/1/BKD/2026", "decree_date": "2026-03-02", "sanction_level": "moral_open",
               "effective_from": "2026-03-02"}, expect=201)
    done = await _ok(system, "sanction", "POST", f"/v1/cases/{own}/reminders", kanreg, message, expect=409)
    assert "already recorded" in done.json()["detail"]
