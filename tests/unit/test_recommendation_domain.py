"""The examining side's rules: the transition table, the finding's defaults, the verification target."""

import datetime as dt

import pytest

from services.recommendation.domain import (
    EXAMINATION_OUTCOMES,
    TRANSITIONS,
    VERIFICATION_OUTCOMES,
    CatalogueEntry,
    InvalidFinding,
    Stage,
    Step,
    TransitionRefused,
    heaviest_default,
    next_stage,
    recommendation_number,
    resolve_finding,
    verification_due,
)
from shared.calendar import WorkingCalendar


@pytest.mark.parametrize(
    ("outcome", "stage"),
    [("accepted", Stage.AWAITING_EXAMINATION), ("rejected", Stage.REJECTED), ("cancelled", Stage.CANCELLED),
     ("out_of_service", Stage.OUT_OF_SERVICE)],
)
def test_each_verification_outcome_moves_a_case_awaiting_verification(outcome, stage):
    assert next_stage(Stage.AWAITING_VERIFICATION, Step.VERIFICATION, outcome) is stage


def test_examination_follows_acceptance_and_proven_means_recommended():
    assert next_stage(Stage.AWAITING_EXAMINATION, Step.EXAMINATION, "proven") is Stage.RECOMMENDED
    assert next_stage(Stage.AWAITING_EXAMINATION, Step.EXAMINATION, "not_proven") is Stage.NOT_PROVEN


def test_every_pair_outside_the_table_is_refused_and_the_table_has_exactly_six_moves():
    assert len(TRANSITIONS) == 6
    steps = [(Step.VERIFICATION, o) for o in VERIFICATION_OUTCOMES] + [(Step.EXAMINATION, o) for o in EXAMINATION_OUTCOMES]
    for stage in Stage:
        for step, outcome in steps:
            if (stage, step, outcome) in TRANSITIONS:
                continue
            with pytest.raises(TransitionRefused):
                next_stage(stage, step, outcome)


@pytest.mark.parametrize(
    ("stage", "step", "outcome", "words"),
    [
        (Stage.AWAITING_EXAMINATION, Step.VERIFICATION, "rejected", "already decided: the case is awaiting_examination"),
        (Stage.REJECTED, Step.VERIFICATION, "accepted", "already decided: the case is rejected"),
        (Stage.AWAITING_VERIFICATION, Step.EXAMINATION, "proven", "only a case accepted at verification"),
        (Stage.RECOMMENDED, Step.EXAMINATION, "not_proven", "already examined: it is recommended"),
        (Stage.CANCELLED, Step.EXAMINATION, "proven", "closed at verification (cancelled)"),
    ],
)
def test_a_refusal_says_why(stage, step, outcome, words):
    with pytest.raises(TransitionRefused, match=words.replace("(", r"\(").replace(")", r"\)")):
        next_stage(stage, step, outcome)


def test_an_outcome_of_another_step_is_a_programming_error_not_a_conflict():
    with pytest.raises(ValueError):
        next_stage(Stage.AWAITING_VERIFICATION, Step.VERIFICATION, "proven")


CATALOGUE = {
    "ETIK-MEDSOS": CatalogueEntry("ETIK-MEDSOS", "ethics", "PP 42/2004 pasal 11", "moral_open"),
    "ETIK-FOTO": CatalogueEntry("ETIK-FOTO", "ethics", "PP 42/2004 pasal 11", "moral_closed"),
    "DISIPLIN-KAMPANYE": CatalogueEntry("DISIPLIN-KAMPANYE", "discipline", "PP 94/2021 pasal 5 huruf n", "moderate"),
    "DISIPLIN-PARTAI": CatalogueEntry("DISIPLIN-PARTAI", "discipline", "PP 94/2021 pasal 5 huruf n",
                                      "dishonourable_dismissal"),
}


def test_the_default_is_the_heaviest_catalogued_violation_of_the_case():
    assert heaviest_default(["ETIK-FOTO", "ETIK-MEDSOS"], CATALOGUE).code == "ETIK-MEDSOS"
    assert heaviest_default(["ETIK-MEDSOS", "DISIPLIN-KAMPANYE", "UNKNOWN"], CATALOGUE).code == "DISIPLIN-KAMPANYE"
    assert heaviest_default(["UNKNOWN"], CATALOGUE) is None
    finding = resolve_finding(["ETIK-MEDSOS", "DISIPLIN-KAMPANYE"], CATALOGUE)
    assert (finding.category, finding.sanction_level, finding.legal_basis) == (
        "discipline", "moderate", "PP 94/2021 pasal 5 huruf n")


def test_the_examiner_overrides_any_default_per_case():
    finding = resolve_finding(["DISIPLIN-KAMPANYE"], CATALOGUE, sanction_level="severe")
    assert (finding.category, finding.sanction_level) == ("discipline", "severe")
    assert finding.legal_basis == "PP 94/2021 pasal 5 huruf n"
    lighter = resolve_finding(["DISIPLIN-KAMPANYE"], CATALOGUE, category="ethics", sanction_level="moral_open",
                              legal_basis="PP 42/2004 pasal 11")
    assert (lighter.category, lighter.sanction_level) == ("ethics", "moral_open")


def test_a_level_given_alone_brings_its_own_category():
    finding = resolve_finding(["ETIK-MEDSOS"], CATALOGUE, sanction_level="light", legal_basis="PP 94/2021")
    assert finding.category == "discipline"


def test_a_default_of_another_category_never_fills_in_the_finding():
    with pytest.raises(InvalidFinding) as refused:
        resolve_finding(["ETIK-MEDSOS"], CATALOGUE, category="discipline")
    assert refused.value.field == "sanction_level"
    with pytest.raises(InvalidFinding) as refused:
        resolve_finding(["ETIK-MEDSOS"], CATALOGUE, sanction_level="moderate")
    assert refused.value.field == "legal_basis"


def test_a_level_of_another_category_is_refused_naming_the_field():
    with pytest.raises(InvalidFinding) as refused:
        resolve_finding(["DISIPLIN-KAMPANYE"], CATALOGUE, category="ethics", sanction_level="severe")
    assert refused.value.field == "sanction_level"
    assert "severe is not a ethics sanction" in refused.value.reason


def test_without_a_catalogue_entry_every_field_must_be_given():
    with pytest.raises(InvalidFinding) as refused:
        resolve_finding(["UNKNOWN"], {})
    assert refused.value.field == "category"
    finding = resolve_finding(["UNKNOWN"], {}, category="discipline", sanction_level="moderate",
                              legal_basis="PP 94/2021 pasal 5 huruf n")
    assert finding.sanction_level == "moderate"


def test_the_verification_target_counts_calendar_or_working_days():
    assert verification_due(dt.date(2024, 10, 15), 7) == dt.date(2024, 10, 22)
    # Friday 20 Dec 2024 + 7 working days skips two weekends, Christmas (Wed) and New Year's Day (Wed).
    assert verification_due(dt.date(2024, 12, 20), 7, working_days=True, calendar=WorkingCalendar(joint_leave_days={})) == dt.date(2025, 1, 2)
    # A configured day off (cuti bersama on 26 Dec) moves it one working day further.
    calendar = WorkingCalendar([dt.date(2024, 12, 26)], joint_leave_days={})
    assert verification_due(dt.date(2024, 12, 20), 7, working_days=True, calendar=calendar) == dt.date(2025, 1, 3)


def test_recommendation_numbers_name_the_year_and_a_six_digit_serial():
    assert recommendation_number(2024, 123) == "REK-2024-000123"
    with pytest.raises(ValueError):
        recommendation_number(2024, 0)
