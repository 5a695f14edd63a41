"""A retired case leaves every service's books, with real rows behind it. The recommendation that starts the
PPK's deadline is published as the recommendation service would (as in test_sanction.py); from there sanction
acts for real: its obligation, an extension (a deadline change), the overdue notice of its sweep and the PPK's
follow-up, which blocking answers with a block placed and lifted, while notify keeps a copy of every event.
The retirement (intake's ``sbt.case.retired.v1``) is published as intake's sweep publishes it, and the very
same event delivered a second time changes nothing. A case whose block is somehow still in force when it is
retired keeps that block: retirement is housekeeping, not BKN's decision to unblock."""

from __future__ import annotations

import datetime as dt

import nats
import pytest

from shared.events import nats_subject
from shared.events.recommendation import RecommendationIssued
from shared.events.retention import CaseRetired
from tests.e2e.streams import stream_documents
from tests.e2e.test_blocking import AGENCY, Producers, _open_case
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

CONSUMERS = ("recommendation", "sanction", "blocking", "notify")


async def _count(system, service: str, sql: str, **params) -> int:  # noqa: ANN001, ANN003
    return int(await system.scalar(service, sql, **params) or 0)


async def _recommend(producers: Producers, case_id: str, nip: str) -> None:
    await producers.publish(RecommendationIssued(
        case_id=case_id, recommendation_number=f"REK-{case_id[-6:]}", nip=nip, agency_code=AGENCY,
        category="discipline", sanction_level="moderate", legal_basis="PP 94/2021 pasal 5 huruf n",
        examining_authority="BKN", issued_at=dt.datetime(2024, 12, 2, 3, tzinfo=dt.UTC)), case_id)  # Monday 2 Dec


async def _retire(producers: Producers, case_id: str):  # noqa: ANN202
    return await producers.publish(CaseRetired(
        case_id=case_id, election_code="PILKADA-2024", outcome="sanctioned", closed_on=dt.date(2024, 12, 20),
        kept_days=730, retired_on=dt.date(2026, 12, 20), reports_removed=1, archive_sha256="a" * 64), case_id)


async def _blocked(system, nip: str) -> bool:  # noqa: ANN001
    async with system.client("blocking", system.token("BKN", "personnel")) as client:
        response = await client.get(f"/v1/personnel/{nip}/block")
    assert response.status_code == 200, response.text
    return bool(response.json()["blocked"])


async def _caught_up(system) -> bool | None:  # noqa: ANN001
    """Every consumer has taken and acknowledged the stream's last message."""
    connection = await nats.connect(system.nats.url)
    try:
        js = connection.jetstream()
        for name in CONSUMERS:
            info = await js.consumer_info("SBT_EVENTS", name)
            if info.num_pending or info.num_ack_pending:
                return None
        return True
    finally:
        await connection.close()


async def _on_feeds(system, case_id: str) -> list[str]:  # noqa: ANN001
    """The types of the case's messages on the agencies' feed stream."""
    return [document["type"] for document in await stream_documents(system, "SBT_FEEDS")
            if document["subject"] == case_id]


async def _books(system, case_id: str, keep: str) -> dict[str, int]:  # noqa: ANN001
    one = {"id": case_id}
    return {
        "sanction followups": await _count(system, "sanction", "SELECT count(*) FROM followups WHERE case_id = :id", **one),
        "sanction deadline changes": await _count(
            system, "sanction", "SELECT count(*) FROM deadline_changes WHERE case_id = :id", **one),
        "sanction notices": await _count(system, "sanction", "SELECT count(*) FROM notices WHERE case_id = :id", **one),
        "blocking watched": await _count(system, "blocking", "SELECT count(*) FROM watched_cases WHERE case_id = :id",
                                         **one),
        "blocking blocks": await _count(system, "blocking", "SELECT count(*) FROM blocks WHERE case_id = :id", **one),
        "notify events": await _count(system, "notify", "SELECT count(*) FROM events WHERE subject = :id "
                                      "AND event_id != :keep", keep=keep, **one),
        "notify facts": await _count(system, "notify", "SELECT count(*) FROM case_facts WHERE case_id = :id", **one),
        "notify feed staging": await _count(
            system, "notify", "SELECT count(*) FROM feed_outbox f LEFT JOIN events e ON e.event_id = f.event_id "
            "WHERE e.event_id IS NULL OR (e.subject = :id AND e.event_id != :keep)", keep=keep, **one),
        "feed stream": len([kind for kind in await _on_feeds(system, case_id) if kind != CaseRetired.event_type]),
    }


async def test_a_retired_case_leaves_every_service_and_a_block_in_force_stays(make_system):
    system = await make_system("intake", *CONSUMERS, extra_env={
        "SBT_CLOCK_FIXED": "2024-12-20T10:00:00+07:00",  # a Friday
        "SBT_SWEEP_INTERVAL_SECONDS": "0",
        "SBT_BLOCKING_POLICY": "automatic",
    })
    producers = Producers(system)
    case_id, nip = await _open_case(system)
    stuck_case, stuck_nip = await _open_case(system)
    await _recommend(producers, case_id, nip)
    await _recommend(producers, stuck_case, stuck_nip)

    async def obligations():
        return await _count(system, "sanction", "SELECT count(*) FROM followups") == 2 or None

    await eventually(obligations, 20, "sanction opened both obligations")
    async with system.client("sanction", system.token("BKN", "examiner")) as examiner:
        extended = await examiner.post(f"/v1/cases/{case_id}/deadline/extend",
                                       json={"reason": "PPK berganti.", "working_days": 2})
        assert extended.status_code == 200, extended.text
        assert extended.json()["due_date"] == "2024-12-18"
    async with system.client("sanction", system.token("BKN", "admin")) as admin:
        swept = await admin.post("/v1/sweeps", json={"as_of": "2024-12-19"})
    assert swept.status_code == 200, swept.text
    assert {o["case_id"] for o in swept.json()["overdue"]} == {case_id, stuck_case}

    async def both_blocked():
        return (await _blocked(system, nip) and await _blocked(system, stuck_nip)) or None

    await eventually(both_blocked, 20, "both civil servants blocked for the overdue follow-up")
    async with system.client("sanction", system.token(AGENCY, "ppk", ppk_agency=AGENCY)) as ppk:
        recorded = await ppk.post(f"/v1/cases/{case_id}/followup", json={
            "decree_number": "800/77/BKD/2024", "decree_date": "2024-12-19", "sanction_level": "moderate",
            "effective_from": "2024-12-20", "effective_until": "2025-12-19"})
        assert recorded.status_code == 201, recorded.text

    async def unblocked():
        return not await _blocked(system, nip) or None

    await eventually(unblocked, 20, "the follow-up lifted the block")
    await eventually(lambda: _caught_up(system), 20, "every consumer caught up")
    async def on_the_feeds():
        return len(await _on_feeds(system, case_id)) >= 9 or None  # three feeds: opened, recommended, set ...

    await eventually(on_the_feeds, 20, "the case's events on the agency's, the national and the regional feed")
    before = await _books(system, case_id, keep="")
    assert all(before[name] for name in ("sanction followups", "sanction deadline changes", "sanction notices",
                                         "blocking watched", "blocking blocks", "notify events", "notify facts",
                                         "notify feed staging", "feed stream")), before
    async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
        assert (await client.get(f"/v1/cases/{case_id}")).status_code == 200

    retired = await _retire(producers, case_id)
    await eventually(lambda: _caught_up(system), 20, "every consumer applied the retirement")

    async def erased():
        books = await _books(system, case_id, keep=retired.id)
        return books if set(books.values()) == {0} else None

    try:
        gone = await eventually(erased, 20, "the case erased from every service and from the feeds")
    except TimeoutError:
        raise AssertionError(await _books(system, case_id, keep=retired.id)) from None
    # Subscribers still learn that the case was retired, on each of its feeds: the agency's, the national one
    # and its BKN regional office's (Kanreg III: Jawa Barat).
    assert await _on_feeds(system, case_id) == [CaseRetired.event_type] * 3
    async with system.client("recommendation", system.token("BAWASLU", "verifier")) as client:
        assert (await client.get(f"/v1/cases/{case_id}")).status_code == 404
    # The retirement itself is kept and fanned out (ids and dates only), so subscribers learn of it too.
    assert await _count(system, "notify", "SELECT count(*) FROM events WHERE event_id = :id", id=retired.id) == 1
    assert await _count(system, "notify", "SELECT count(*) FROM events WHERE envelope LIKE :nip", nip=f"%{nip}%") == 0

    # The same event delivered again (another message id, so JetStream does not drop it as a duplicate).
    everything = {service: await _count(system, service, "SELECT count(*) FROM inbox") for service in CONSUMERS}
    notify_events = await _count(system, "notify", "SELECT count(*) FROM events")
    connection = await nats.connect(system.nats.url)
    try:
        await connection.jetstream().publish(nats_subject(CaseRetired),
                                             retired.model_dump_json(exclude_none=True).encode(),
                                             headers={"Nats-Msg-Id": f"{retired.id}-again"})
    finally:
        await connection.close()
    await eventually(lambda: _caught_up(system), 20, "the second delivery settled")
    assert await _books(system, case_id, keep=retired.id) == gone
    assert {service: await _count(system, service, "SELECT count(*) FROM inbox") for service in CONSUMERS} == everything
    assert await _count(system, "notify", "SELECT count(*) FROM events") == notify_events

    # A case retired while its block is still in force: the block stays and still answers the query.
    await _retire(producers, stuck_case)
    await eventually(lambda: _caught_up(system), 20, "every consumer applied the second retirement")
    assert await _blocked(system, stuck_nip)
    assert await _count(system, "blocking", "SELECT count(*) FROM blocks WHERE case_id = :id AND lifted_at IS NULL",
                        id=stuck_case) == 1
    assert await _count(system, "sanction", "SELECT count(*) FROM followups WHERE case_id = :id", id=stuck_case) == 0
    for service in CONSUMERS:
        assert await _count(system, service, "SELECT count(*) FROM dead_letters") == 0, service
