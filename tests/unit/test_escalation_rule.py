"""The escalation rule: one escalation per crossing of the threshold, re-armed only below it."""

import pytest

from services.blocking.domain import active_key, decide_escalation, event_subject


def _run(counts: list[int], threshold: int) -> list[bool]:
    """Feeds a sequence of overdue counts through the rule, returning when an escalation is raised."""
    escalated, raised = False, []
    for count in counts:
        decision = decide_escalation(overdue_cases=count, threshold=threshold, escalated=escalated)
        escalated = decision.escalated
        raised.append(decision.raise_now)
    return raised


def test_reaching_the_threshold_raises_once():
    assert _run([1, 2, 3], threshold=3) == [False, False, True]


def test_staying_above_the_threshold_raises_nothing_more():
    assert _run([3, 4, 5, 4, 3], threshold=3) == [True, False, False, False, False]


def test_dropping_below_and_crossing_again_raises_again():
    assert _run([3, 2, 3, 2, 1, 4], threshold=3) == [True, False, True, False, False, True]


def test_a_threshold_of_one_escalates_the_first_overdue_case():
    assert _run([0, 1, 0, 1], threshold=1) == [False, True, False, True]


def test_a_threshold_below_one_is_refused():
    with pytest.raises(ValueError):
        decide_escalation(overdue_cases=5, threshold=0, escalated=False)


def test_one_active_block_per_case_and_one_manual_block_per_nip():
    assert active_key(nip="198609262015051001", case_id="C1") == "case:C1"
    assert active_key(nip="198609262015051001", case_id=None) == "nip:198609262015051001"
    assert event_subject(nip="198609262015051001", case_id="C1") == "C1"
    assert event_subject(nip="198609262015051001", case_id=None) == "nip:198609262015051001"
