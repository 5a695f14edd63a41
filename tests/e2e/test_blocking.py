"""Blocking and the status figures end to end, on a real NATS server, real databases and real processes.

Cases are filed through intake's REST API. What the recommendation and sanction services decide is
published on NATS as they would publish it (correctly chained envelopes from ``/sbt/recommendation`` and
``/sbt/sanction``), so these tests stand on the blocking and status services alone. Time is pinned with
``SBT_CLOCK_FIXED``.
"""

from __future__ import annotations

import datetime as dt

import nats
import pytest

from shared.events import GENESIS_HASH, Envelope, nats_subject
from shared.events.base import EventData
from shared.events.envelope import utc_now_text
from shared.events.recommendation import CaseExamined, RecommendationIssued, VerificationDecided
from shared.events.sanction import DeadlineSet, FollowupOverdue, FollowupRecorded
from shared.ids import new_id
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually
from tests.harness.signing import producer_key

pytestmark = pytest.mark.e2e

AGENCY = "PEMPROV-JABAR"
NOW = "2024-11-05T03:00:00+00:00"  # 10:00 in Jakarta, the day after the due date
DUE = dt.date(2024, 11, 4)


class Producers:
    """Publishes events as their producers would: one hash chain per producer, Nats-Msg-Id = event id."""

    def __init__(self, system) -> None:  # noqa: ANN001
        self.system = system
        self.heads: dict[str, tuple[int, str]] = {}

    async def publish(self, data: EventData, subject: str) -> Envelope:
        seq, prev = self.heads.get(data.producer, (0, GENESIS_HASH))
        envelope = Envelope(id=new_id(), source=f"/sbt/{data.producer}", type=data.event_type, time=utc_now_text(),
                            subject=subject, data=data.model_dump(mode="json")).chained(
                                seq + 1, prev, producer_key(self.system, data.producer))
        self.heads[data.producer] = (seq + 1, envelope.hash)
        connection = await nats.connect(self.system.nats.url)
        try:
            await connection.jetstream().publish(nats_subject(type(data)), envelope.model_dump_json(exclude_none=True).encode(),
                                                 headers={"Nats-Msg-Id": envelope.id})
        finally:
            await connection.close()
        return envelope

    async def recommend(self, case_id: str, nip: str) -> None:
        at = dt.datetime(2024, 10, 21, 2, tzinfo=dt.UTC)
        await self.publish(VerificationDecided(case_id=case_id, nip=nip, outcome="accepted", reason="Bukti cukup.",
                                               decided_by_agency="BAWASLU", decided_at=at), case_id)
        await self.publish(CaseExamined(case_id=case_id, nip=nip, outcome="proven", category="discipline",
                                        sanction_level="moderate", legal_basis="PP 94/2021 pasal 5 huruf n",
                                        reason="Terbukti ikut kampanye.", examining_authority="BKN",
                                        examined_at=at), case_id)
        await self.publish(RecommendationIssued(case_id=case_id, recommendation_number=f"REK-{case_id[-6:]}", nip=nip,
                                                agency_code=AGENCY, category="discipline", sanction_level="moderate",
                                                legal_basis="PP 94/2021 pasal 5 huruf n", examining_authority="BKN",
                                                issued_at=at), case_id)
        await self.publish(DeadlineSet(case_id=case_id, nip=nip, agency_code=AGENCY, due_date=DUE, working_days=10,
                                       set_at=at), case_id)

    async def overdue(self, case_id: str, nip: str) -> None:
        await self.publish(FollowupOverdue(case_id=case_id, nip=nip, agency_code=AGENCY, due_date=DUE,
                                           overdue_on=DUE + dt.timedelta(days=1)), case_id)

    async def follow_up(self, case_id: str, nip: str) -> None:
        await self.publish(FollowupRecorded(
            case_id=case_id, nip=nip, agency_code=AGENCY, decree_number="800/77/BKD/2024",
            decree_date=dt.date(2024, 11, 6), sanction_level="moderate", recommended_level="moderate",
            lighter_than_recommended=False, effective_from=dt.date(2024, 11, 6), late=True,
            recorded_by_agency=AGENCY, recorded_at=dt.datetime(2024, 11, 6, 2, tzinfo=dt.UTC)), case_id)


async def _get(system, service: str, path: str, *roles: str, agency: str = "BKN", ppk_agency: str | None = None,
               status: int = 200) -> dict:
    async with system.client(service, system.token(agency, *roles, ppk_agency=ppk_agency)) as client:
        response = await client.get(path)
    assert response.status_code == status, response.text
    return response.json()


async def _open_case(system) -> tuple[str, str]:  # noqa: ANN001
    nip = random_nip()
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        response = await client.post("/v1/reports", json=report_body(nip, agency_code=AGENCY))
    assert response.status_code == 201, response.text
    return response.json()["case_id"], nip


async def _until(system, service: str, path: str, check, what: str, *roles: str) -> dict:  # noqa: ANN001
    async def reached():
        body = await _get(system, service, path, *roles)
        return body if check(body) else None

    return await eventually(reached, 20, what)


async def test_overdue_blocks_escalates_and_the_followup_unblocks(make_system):
    # The automatic policy: every overdue case blocked at once (BKN's decision is test_blocking_decisions.py).
    system = await make_system("intake", "status", "blocking",
                               extra_env={"SBT_CLOCK_FIXED": NOW, "SBT_ESCALATION_THRESHOLD": "2",
                                          "SBT_BLOCKING_POLICY": "automatic"})
    producers = Producers(system)
    (late_case, late_nip), (silent_case, silent_nip) = await _open_case(system), await _open_case(system)
    await _until(system, "status", "/v1/stats", lambda b: b["total"]["reported"] == 2, "two cases", "observer")
    for case_id, nip in ((late_case, late_nip), (silent_case, silent_nip)):
        await producers.recommend(case_id, nip)
        await producers.overdue(case_id, nip)

    block = await _until(system, "blocking", f"/v1/personnel/{late_nip}/block", lambda b: b["blocked"],
                         "the overdue case blocks the civil servant", "personnel")
    (only,) = block["blocks"]
    assert only["case_id"] == late_case and only["cause"] == "overdue"
    assert only["reason"] == "Tindak lanjut melewati batas waktu 2024-11-04."
    assert block["since"] == only["since"] and only["since"].startswith("2024-11-05T03:00:00")

    # Two overdue cases at one agency reach the threshold of 2: one escalation, listing both.
    escalations = await _until(system, "blocking", "/v1/escalations", lambda b: b["escalations"], "an escalation",
                               "observer")
    (escalation,) = escalations["escalations"]
    assert escalation["agency_code"] == AGENCY and escalation["threshold"] == 2
    assert sorted(escalation["overdue_case_ids"]) == sorted([late_case, silent_case])

    status = await _until(system, "status", f"/v1/asn/{late_nip}/status", lambda b: b["blocked"],
                          "the block in the shared status", "observer")
    assert [b["block_id"] for b in status["blocks"]] == [only["block_id"]]
    assert status["blocks"][0]["reason"] == only["reason"]

    # The PPK of the late case records the decree: its block is lifted; the silent case stays blocked.
    await producers.follow_up(late_case, late_nip)
    await _until(system, "blocking", f"/v1/personnel/{late_nip}/block", lambda b: not b["blocked"],
                 "the follow-up lifts the block", "blocker")
    assert (await _get(system, "blocking", f"/v1/personnel/{silent_nip}/block", "personnel"))["blocked"] is True
    status = await _until(system, "status", f"/v1/asn/{late_nip}/status",
                          lambda b: not b["blocked"] and b["cases"][0]["stage"] == "sanctioned",
                          "the unblock in the shared status", "observer")
    assert status["blocks"] == []
    timeline = await _get(system, "status", f"/v1/cases/{late_case}/timeline", "observer")
    reasons = {e["type"]: e["data"].get("reason") for e in timeline["events"]}
    assert reasons["sbt.personnel.blocked.v1"] == "Tindak lanjut melewati batas waktu 2024-11-04."
    assert reasons["sbt.personnel.unblocked.v1"] == "PPK menetapkan hukuman, SK 800/77/BKD/2024."
    assert list(reasons).index("sbt.personnel.unblocked.v1") > list(reasons).index("sbt.personnel.blocked.v1")

    # The figures are what happened.
    figures = await _until(system, "status", "/v1/stats", lambda b: b["total"]["unblocked"] == 1, "figures",
                           "observer")
    expected = {"reported": 2, "verified": 2, "proven": 2, "recommended": 2, "followed_up": 1, "overdue": 1,
                "blocked": 1, "unblocked": 1, "awaiting_ppk": 1, "rejected": 0, "not_proven": 0, "cancelled": 0,
                "out_of_service": 0, "ever_blocked": 2, "unblocked_after_followup": 1, "unblocked_by_hand": 0,
                "block_declined": 0}
    assert figures["total"] == expected
    assert figures["by_agency"] == {AGENCY: expected}
    assert figures["by_province"] == {"JAWA BARAT": expected}
    filtered = await _get(system, "status", "/v1/stats?election=PEMILU-2019", "observer")
    assert filtered["total"]["reported"] == 0

    # The PPK's worklist: the silent case, a working day past its due date; other agencies' PPKs are refused.
    worklist = await _get(system, "status", f"/v1/agencies/{AGENCY}/cases?stage=awaiting_ppk", "ppk",
                          agency=AGENCY, ppk_agency=AGENCY)
    assert worklist["today"] == "2024-11-05" and worklist["total"] == 1
    (item,) = worklist["cases"]
    assert item["case_id"] == silent_case and item["due_date"] == "2024-11-04"
    assert item["working_days_left"] == -1 and item["overdue"] and item["blocked"]
    await _get(system, "status", f"/v1/agencies/{AGENCY}/cases", "ppk", agency="PEMKOT-BANDUNG",
               ppk_agency="PEMKOT-BANDUNG", status=403)
    bad_stage = await _get(system, "status", f"/v1/agencies/{AGENCY}/cases?stage=lost", "observer", status=422)
    assert bad_stage["errors"][0]["field"].endswith("stage")

    # Every event blocking emitted validates against its contract (the consumers checked the hash chain).
    assert await system.scalar("blocking", "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
    assert await system.scalar("status", "SELECT count(*) FROM dead_letters") == 0


async def test_bkn_blocks_and_unblocks_by_hand_with_a_reason(make_system):
    system = await make_system("status", "blocking", extra_env={"SBT_CLOCK_FIXED": NOW})
    nip = random_nip()
    bkn = system.token("BKN", "blocker", client_id="bkn-wasdal")

    async with system.client("blocking", bkn) as client:
        blank = await client.post(f"/v1/personnel/{nip}/block", json={"reason": "   "})
        assert blank.status_code == 422
        assert blank.json()["errors"][0]["field"] == "reason"
        bad_nip = await client.post("/v1/personnel/123/block", json={"reason": "Rekomendasi KASN diabaikan."})
        assert bad_nip.status_code == 422 and bad_nip.json()["errors"][0]["field"] == "nip"
        assert await system.scalar("blocking", "SELECT count(*) FROM blocks") == 0
        assert await system.scalar("blocking", "SELECT count(*) FROM outbox") == 0

        placed = await client.post(f"/v1/personnel/{nip}/block", json={"reason": "Rekomendasi KASN diabaikan."})
        assert placed.status_code == 201, placed.text
        block = placed.json()
        assert block["cause"] == "manual" and block["case_id"] is None
        again = await client.post(f"/v1/personnel/{nip}/block", json={"reason": "Sekali lagi."})
        assert again.status_code == 409

    async with system.client("blocking", system.token("BKN", "observer")) as observer:
        refused = await observer.post(f"/v1/personnel/{nip}/unblock", json={"reason": "Bukan wewenang."})
        assert refused.status_code == 403
    async with system.client("blocking") as anonymous:
        assert (await anonymous.get(f"/v1/personnel/{nip}/block")).status_code == 401

    answer = await _get(system, "blocking", f"/v1/personnel/{nip}/block", "personnel", agency="SIASN")
    assert answer["blocked"] is True and answer["blocks"][0]["reason"] == "Rekomendasi KASN diabaikan."
    status = await _until(system, "status", f"/v1/asn/{nip}/status", lambda b: b["blocked"], "manual block shown",
                          "observer")
    assert status["blocks"][0]["cause"] == "manual" and status["open_cases"] == 0

    async with system.client("blocking", bkn) as client:
        lifted = await client.post(f"/v1/personnel/{nip}/unblock",
                                   json={"reason": "PPK telah menjatuhkan hukuman disiplin.", "block_id": block["block_id"]})
        assert lifted.status_code == 200, lifted.text
        assert lifted.json() == {"nip": nip, "lifted": [block["block_id"]], "blocked": False}
        twice = await client.post(f"/v1/personnel/{nip}/unblock", json={"reason": "Sekali lagi."})
        assert twice.status_code == 409
    assert (await _get(system, "blocking", f"/v1/personnel/{nip}/block", "personnel"))["blocked"] is False
    await _until(system, "status", f"/v1/asn/{nip}/status", lambda b: not b["blocked"], "manual unblock shown",
                 "observer")
    lift = await system.scalar("blocking", "SELECT lift_reason || ' / ' || lifted_by FROM blocks")
    assert lift == "PPK telah menjatuhkan hukuman disiplin. / bkn-wasdal"
    # Both events are filed under the NIP, not under a case, and reached the status service's log.
    subjects = await system.scalar("status", "SELECT count(*) FROM events WHERE subject = :s", s=f"nip:{nip}")
    assert subjects == 2
