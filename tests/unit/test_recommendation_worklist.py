"""What a worklist entry says about the verification target: due date shown, overdue only while waiting."""

import datetime as dt

from services.recommendation.cases import to_out
from services.recommendation.models import Case

OPENED = dt.datetime(2024, 10, 15, 3, 0, tzinfo=dt.UTC)


def _case(stage: str = "awaiting_verification", **decided) -> Case:
    return Case(case_id="01JD0000000000000000000002", nip="198609262015051001", election_code="PILKADA-2024",
                agency_code="PEMPROV-JABAR", province="JAWA BARAT", violation_codes=["ETIK-MEDSOS"], report_count=1,
                opened_at=OPENED, verification_due=dt.date(2024, 10, 22), stage=stage, updated_at=OPENED, **decided)


def test_a_case_waiting_past_its_target_is_overdue_and_not_on_the_target_day():
    assert to_out(_case(), dt.date(2024, 10, 22)).verification_overdue is False
    assert to_out(_case(), dt.date(2024, 10, 23)).verification_overdue is True


def test_a_verified_case_is_never_overdue_for_verification_and_shows_the_decision():
    verified = _case("awaiting_examination", verification_outcome="accepted", verification_reason="Bukti cukup.",
                     verified_by_agency="BAWASLU", verified_at=OPENED + dt.timedelta(days=9))
    out = to_out(verified, dt.date(2024, 11, 1))
    assert out.verification_overdue is False
    assert (out.verification.outcome, out.verification.decided_by_agency) == ("accepted", "BAWASLU")
    assert out.examination is None
