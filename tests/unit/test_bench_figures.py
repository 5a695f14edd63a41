"""How the bench turns rounds into a row: medians, spreads, failures counted, and a figure whose ceiling
itself wandered marked inconclusive instead of met. No timing here: the rounds are made up."""

from __future__ import annotations

from tests.bench.suite import Round, Rows, Series, alternate, scaled


def _round(rate: float, *, failures: dict[str, int] | None = None, p99: float = 2.0) -> Round:
    return Round(rate, p50_ms=1.0, p99_ms=p99, failures=failures or {}, server_cpu=1.0, client_cpu=0.5, seconds=1.0,
                 count=int(rate), load_before=0.5, load_after=1.5)


def test_the_median_and_the_spread_of_rounds():
    series = Series([_round(90), _round(100), _round(110)])
    assert series.rate == 100
    assert round(series.spread, 3) == 0.2
    assert series.per_cpu_second == 100


def test_rounds_alternate_ceiling_first():
    order: list[str] = []
    ceiling, service = alternate(3, lambda: order.append("c") or _round(1), lambda: order.append("s") or _round(1))
    assert order == ["c", "s", "c", "s", "c", "s"]
    assert len(ceiling.rounds) == len(service.rounds) == 3


def test_a_ceiling_that_spreads_more_than_ten_percent_makes_the_figure_inconclusive():
    rows = Rows()
    steady = Series([_round(1000), _round(1010), _round(990)])
    rows.compared("steady", steady, Series([_round(600)] * 3), unit="req/s", goal="", min_ratio=0.5)
    wandering = Series([_round(800), _round(1000), _round(1200)])
    rows.compared("wandering", wandering, Series([_round(600)] * 3), unit="req/s", goal="", min_ratio=0.5)
    assert rows.rows[0]["met"] is True and rows.rows[0]["ratio"].startswith("0.6 ")
    assert isinstance(rows.rows[1]["met"], str) and rows.rows[1]["met"].startswith("inconclusive")


def test_failures_anywhere_in_a_row_mean_the_goal_is_not_met_and_are_named():
    rows = Rows()
    ceiling = Series([_round(1000, failures={"timeout": 2})] * 3)
    service = Series([_round(900, failures={"503": 5})] * 3)
    rows.compared("failing", ceiling, service, unit="req/s", goal="", min_ratio=0.5)
    row = rows.rows[0]
    assert row["met"] is False
    assert "15 503" in row["failures"] and "6 timeout" in row["failures"]


def test_a_small_scale_shrinks_the_counts_but_not_the_rounds():
    small = scaled(0.01)
    assert small["roster"] == 47_000 and small["rounds"] == 3 and small["factor"] == 0.01
    assert scaled(1)["roster"] == 4_700_000 and scaled(1)["round_seconds"] == 10


def test_an_absolute_goal_is_judged_whatever_the_ceiling_did():
    rows = Rows()
    wandering = Series([_round(800), _round(1000), _round(1200)])
    rows.compared("slow", wandering, Series([_round(86)] * 3), unit="reports/s", goal="", min_rate=1000)
    rows.compared("fast", wandering, Series([_round(677)] * 3), unit="NIPs/s", goal="", min_rate=100_000,
                  scale_by=1000)
    rows.compared("peer", wandering, Series([_round(700)] * 3), unit="req/s", goal="for comparison")
    assert [row["met"] for row in rows.rows] == [False, True, None]


def test_a_p99_bound_the_ceiling_itself_misses_is_inconclusive_not_missed():
    rows = Rows()
    steady_but_slow_tail = Series([_round(1000, p99=27.0)] * 3)
    rows.compared("tail", steady_but_slow_tail, Series([_round(600, p99=50.0)] * 3), unit="req/s", goal="",
                  min_ratio=0.5, max_p99_ms=20)
    rows.compared("own tail", Series([_round(1000)] * 3), Series([_round(600, p99=58.0)] * 3), unit="req/s",
                  goal="", min_ratio=0.5, max_p99_ms=20)
    rows.compared("short of the ratio", steady_but_slow_tail, Series([_round(400, p99=58.0)] * 3), unit="req/s",
                  goal="", min_ratio=0.5, max_p99_ms=20)
    rows.compared("far beyond the machine's tail", steady_but_slow_tail, Series([_round(600, p99=1120.0)] * 3),
                  unit="req/s", goal="", min_ratio=0.5, max_p99_ms=20)
    tail, own, short, far = (row["met"] for row in rows.rows)
    assert isinstance(tail, str) and "27 ms" in tail
    assert own is False and short is False and far is False
