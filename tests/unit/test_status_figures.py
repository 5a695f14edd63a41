"""The figures and the PPK worklist of the status service: the flags derived from a status, the funnel
query over the read model (a real SQLite database fed through the real handler), the working days left and
who may read which agency's worklist."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools

import pytest

from services.status import handlers, stats, worklists
from services.status.app import SPEC
from shared.auth import Actor
from shared.calendar import WorkingCalendar
from shared.events import GENESIS_HASH, Envelope
from shared.events.blocking import BlockDeclined, MoreTimeGranted, PersonnelBlocked, PersonnelUnblocked
from shared.events.intake import CaseOpened, ReportReceived
from shared.events.recommendation import CaseExamined, RecommendationIssued, VerificationDecided
from shared.events.sanction import DeadlineSet, FollowupOverdue, FollowupRecorded
from shared.messaging.consumer import Incoming
from shared.migrations import upgrade
from shared.service import Runtime
from services.cli.settings import SystemSettings
from shared.status_model import apply

_seq = itertools.count(1)


def _envelope(model, case_id: str, **fields) -> Envelope:
    seq = next(_seq)
    data = {**model.examples[0], "case_id": case_id, **fields}
    return Envelope(id=f"ev{seq}", source=f"/sbt/{model.producer}", type=model.event_type,
                    time=f"2024-10-15T00:00:{seq % 60:02d}Z", subject=case_id, data=data)


def _story(case_id: str, election: str, province: str | None, agency: str | None, *steps: str) -> list[Envelope]:
    where = {"election_code": election, "province": province, "agency_code": agency}
    events = [_envelope(CaseOpened, case_id, **where), _envelope(ReportReceived, case_id, report_id=f"R-{case_id}", **where)]
    for step in steps:
        match step:
            case "rejected" | "cancelled" | "out_of_service" | "accepted":
                events.append(_envelope(VerificationDecided, case_id, outcome=step))
            case "not_proven":
                events.append(_envelope(CaseExamined, case_id, outcome="not_proven", category=None, sanction_level=None))
            case "proven":
                events.append(_envelope(CaseExamined, case_id))
            case "recommended":
                events.append(_envelope(RecommendationIssued, case_id, agency_code=agency))
                events.append(_envelope(DeadlineSet, case_id, agency_code=agency))
            case "overdue":
                events.append(_envelope(FollowupOverdue, case_id, agency_code=agency))
            case "blocked":
                events.append(_envelope(PersonnelBlocked, case_id, block_id=f"B-{case_id}", agency_code=agency))
            case "unblocked":
                events.append(_envelope(PersonnelUnblocked, case_id, block_id=f"B-{case_id}"))
            case "followed_up":
                events.append(_envelope(FollowupRecorded, case_id, agency_code=agency))
    return events


STORIES = [
    _story("C1", "PEMILU-2019", "JAWA BARAT", "A1", "rejected"),
    _story("C2", "PEMILU-2019", "JAWA BARAT", "A1", "accepted", "not_proven"),
    _story("C3", "PEMILU-2019", "JAWA TENGAH", "A2", "accepted", "proven", "recommended", "followed_up"),
    _story("C4", "PILKADA-2020", "JAWA TENGAH", "A2", "accepted", "proven", "recommended", "overdue", "blocked"),
    _story("C5", "PILKADA-2020", None, "A1", "accepted", "proven", "recommended", "overdue", "blocked",
           "followed_up", "unblocked"),
    _story("C6", "PILKADA-2020", "JAWA BARAT", None, "cancelled"),
    _story("C7", "PILKADA-2020", "JAWA BARAT", "A2", "out_of_service"),
    _story("C8", "PILKADA-2020", "JAWA BARAT", "A2"),
]


def _fold(events: list[Envelope]):
    state = None
    for envelope in events:
        state = apply(state, envelope)
    return state


def test_the_flags_of_a_case_follow_its_story():
    blocked_then_lifted = stats.columns_of(_fold(STORIES[4]))
    assert blocked_then_lifted == {
        "verified": True, "proven": True, "recommended": True, "followed_up": True, "overdue": False,
        "blocked": False, "unblocked": True, "due_date": dt.date(2024, 11, 4),
        "ever_blocked": True, "unblocked_after_followup": True, "unblocked_by_hand": False, "block_declined": False,
    }
    assert stats.columns_of(_fold(STORIES[1]))["verified"] is True
    assert stats.columns_of(_fold(STORIES[1]))["proven"] is False
    assert stats.columns_of(_fold(STORIES[0]))["verified"] is False
    assert stats.columns_of(_fold(STORIES[3]))["blocked"] is True


def test_the_blocking_figures_tell_apart_what_bkn_reconciles():
    """Ever blocked, blocked now, lifted after a follow-up, lifted by hand, and declined with a reason."""
    base = ("accepted", "proven", "recommended", "overdue")
    by_hand = _story("H1", "PILKADA-2020", "JAMBI", "A3", *base, "blocked")
    by_hand.append(_envelope(PersonnelUnblocked, "H1", block_id="B-H1", cause="manual", reason="Dibuka BKN."))
    declined = _story("H2", "PILKADA-2020", "JAMBI", "A3", *base)
    declined.append(_envelope(BlockDeclined, "H2", reason="SK sedang ditandatangani."))
    lifted, refused = stats.columns_of(_fold(by_hand)), stats.columns_of(_fold(declined))
    assert (lifted["ever_blocked"], lifted["blocked"], lifted["unblocked_by_hand"],
            lifted["unblocked_after_followup"]) == (True, False, True, False)
    assert (refused["block_declined"], refused["ever_blocked"], refused["overdue"]) == (True, False, True)
    # More time granted changes nothing in the status by itself: the extension that follows does.
    granted = _story("H3", "PILKADA-2020", "JAMBI", "A3", *base)
    assert _fold([*granted, _envelope(MoreTimeGranted, "H3")]).model_dump(exclude={"events_applied", "updated_at",
                                                                                  "last_event_id"}) == \
        _fold(granted).model_dump(exclude={"events_applied", "updated_at", "last_event_id"})


@pytest.fixture
async def status_runtime(tmp_path):
    runtime = Runtime(SPEC, SystemSettings(env="test", data_dir=tmp_path))
    await asyncio.to_thread(upgrade, "status", runtime.database_url)
    stream_seq = itertools.count(1)
    heads: dict[str, tuple[int, str]] = {}  # each producer's chain, as the relay would make it
    for story in STORIES:
        for unchained in story:
            seq, prevhash = heads.get(unchained.producer, (0, GENESIS_HASH))
            envelope = unchained.chained(seq + 1, prevhash)
            heads[envelope.producer] = (seq + 1, envelope.hash)
            async with runtime.transaction() as session:
                await handlers.record(session, Incoming(envelope, None, next(stream_seq)))
    yield runtime
    await runtime.engine.dispose()


def _figures(reported=0, **counts) -> dict[str, int]:
    return {"reported": reported, **{name: counts.get(name, 0) for name in stats.MEASURES}}


async def test_the_funnel_counts_what_happened(status_runtime):
    async with status_runtime.sessions() as session:
        figures = await stats.funnel(session)
    assert figures["total"] == _figures(
        reported=8, verified=4, proven=3, recommended=3, followed_up=2, overdue=1, blocked=1, unblocked=1,
        ever_blocked=2, unblocked_after_followup=1, awaiting_ppk=1, rejected=1, not_proven=1, cancelled=1, out_of_service=1,
    )
    assert figures["by_election"] == {
        "PILKADA-2020": _figures(reported=5, verified=2, proven=2, recommended=2, followed_up=1, overdue=1,
                                 blocked=1, unblocked=1, ever_blocked=2, unblocked_after_followup=1, awaiting_ppk=1, cancelled=1, out_of_service=1),
        "PEMILU-2019": _figures(reported=3, verified=2, proven=1, recommended=1, followed_up=1, rejected=1,
                                not_proven=1),
    }
    assert list(figures["by_province"]) == ["JAWA BARAT", "JAWA TENGAH", "unknown"]
    assert figures["by_province"]["unknown"]["unblocked"] == 1
    assert figures["by_agency"]["A2"]["reported"] == 4 and figures["by_agency"]["A2"]["blocked"] == 1
    assert figures["by_agency"]["unknown"] == _figures(reported=1, cancelled=1)


async def test_the_filters_narrow_every_figure(status_runtime):
    async with status_runtime.sessions() as session:
        figures = await stats.funnel(session, election="PILKADA-2020", agency="A2")
        nothing = await stats.funnel(session, province="PAPUA")
    assert figures["total"] == _figures(reported=3, verified=1, proven=1, recommended=1, overdue=1, blocked=1,
                                        ever_blocked=1, awaiting_ppk=1, out_of_service=1)
    assert list(figures["by_election"]) == ["PILKADA-2020"] and list(figures["by_agency"]) == ["A2"]
    assert nothing["total"] == _figures() and nothing["by_agency"] == {}


async def test_the_worklist_lists_the_agency_cases_at_the_stage(status_runtime):
    async with status_runtime.sessions() as session:
        total, states = await worklists.cases(session, agency_code="A2", stage=worklists.Stage.AWAITING_PPK,
                                              limit=10, offset=0)
    assert total == 1 and [s.case_id for s in states] == ["C4"] and states[0].blocked


def test_working_days_left_skip_weekends_holidays_and_days_off():
    calendar = WorkingCalendar([dt.date(2024, 12, 26)])  # cuti bersama after Christmas
    states = [_fold(STORIES[3]).model_copy(update={"due_date": due})
              for due in ("2024-12-27", "2024-12-20", "2024-12-19", None)]
    items = worklists.with_days_left(states, today=dt.date(2024, 12, 20), calendar=calendar)
    # 23, 24 and 27 December are working days; the 25th is Christmas, the 26th the configured day off.
    assert [i.working_days_left for i in items] == [3, 0, -1, None]


def test_a_ppk_reads_only_its_own_agency():
    ppk = Actor(client_id="ppk", agency="PEMPROV-JABAR", roles=frozenset({"ppk"}), ppk_agency="PEMPROV-JABAR")
    assert worklists.may_read(ppk, "PEMPROV-JABAR")
    assert not worklists.may_read(ppk, "PEMKOT-BANDUNG")
    observer = Actor(client_id="kasn", agency="KASN", roles=frozenset({"observer"}))
    assert worklists.may_read(observer, "PEMKOT-BANDUNG")
