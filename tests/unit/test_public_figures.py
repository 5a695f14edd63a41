"""The public figures withhold what could point at a person: a small non-zero count, and one more cell
wherever a single withheld cell could be worked out as the total minus the cells shown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.status.public_figures import public_figures, suppress_breakdown, suppress_funnel, withheld_cells

MIN = 5


def test_small_non_zero_counts_are_withheld_and_zero_is_shown():
    assert suppress_funnel({"reported": 12, "blocked": 0, "overdue": 1, "recommended": 4, "followed_up": 5},
                           MIN) == {"reported": 12, "blocked": 0, "overdue": None, "recommended": None,
                                    "followed_up": 5}


def test_a_single_withheld_cell_takes_the_smallest_shown_one_with_it():
    shown = suppress_breakdown({"JAMBI": {"reported": 2}, "ACEH": {"reported": 40}, "BALI": {"reported": 9},
                                "RIAU": {"reported": 0}}, MIN)
    # Had BALI's 9 been shown, JAMBI's 2 would be the published total (51) minus 49.
    assert shown == {"JAMBI": {"reported": None}, "ACEH": {"reported": 40}, "BALI": {"reported": None},
                     "RIAU": {"reported": 0}}


def test_two_withheld_cells_need_no_third():
    shown = suppress_breakdown({"A": {"reported": 2}, "B": {"reported": 3}, "C": {"reported": 30}}, MIN)
    assert shown == {"A": {"reported": None}, "B": {"reported": None}, "C": {"reported": 30}}


def test_the_whole_answer_counts_what_it_withholds():
    figures = {"total": {"reported": 43, "blocked": 1},
               "by_province": {"A": {"reported": 40, "blocked": 0}, "B": {"reported": 3, "blocked": 1}}}
    shown = public_figures(figures, MIN)
    assert shown["total"] == {"reported": 43, "blocked": None}
    assert shown["by_province"] == {"A": {"reported": None, "blocked": 0}, "B": {"reported": None, "blocked": None}}
    assert withheld_cells(shown) == 4


counts = st.dictionaries(st.text(min_size=1, max_size=3), st.integers(min_value=0, max_value=30), min_size=1,
                         max_size=12)


@given(counts, st.integers(min_value=2, max_value=10))
def test_no_withheld_cell_can_be_recovered_from_the_total(cells, minimum):
    shown = suppress_breakdown({key: {"reported": value} for key, value in cells.items()}, minimum)
    withheld = [key for key, row in shown.items() if row["reported"] is None]
    # Every small non-zero count is withheld, every shown count is the true one...
    for key, value in cells.items():
        if 0 < value < minimum:
            assert shown[key]["reported"] is None
        if shown[key]["reported"] is not None:
            assert shown[key]["reported"] == value
    # ...and a withheld cell never stands alone where another non-zero cell could have been withheld with it.
    if len(withheld) == 1:
        assert not any(row["reported"] for key, row in shown.items() if key not in withheld)
