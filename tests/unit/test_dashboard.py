"""The dashboard's pure parts: charts, days late, where a login may send a person back to, and that every
page but the login form and the static files names a permission."""

from __future__ import annotations

import datetime as dt
import re

from services.status.dashboard import charts, queries
from services.status.dashboard.auth import COOKIE, login_required, safe_next
from services.status.dashboard.routes import router
from shared.calendar import WorkingCalendar


def test_the_funnel_chart_carries_each_figure_and_the_share_of_the_previous_step():
    svg = str(charts.funnel({"reported": 40, "verified": 30, "proven": 0}, queries.FUNNEL_STEPS[:3]))
    assert re.findall(r'data-figure="(\w+)">(\d+)<', svg) == [("reported", "40"), ("verified", "30"), ("proven", "0")]
    assert "(75%)" in svg and "(0%)" in svg
    assert 'width="0.0"' in svg  # an empty step draws no bar


def test_chart_labels_are_escaped():
    svg = str(charts.breakdown({"<script>x</script>": {"reported": 2, "followed_up": 1, "overdue": 1}}))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "1 overdue" in svg


def test_days_late_counts_working_days_and_calendar_days_after_the_due_date():
    calendar = WorkingCalendar()
    due = dt.date(2024, 11, 1)  # a Friday
    assert queries.days_late(due, dt.date(2024, 11, 1), calendar) == (0, 0)
    assert queries.days_late(due, dt.date(2024, 10, 30), calendar) == (0, 0)
    assert queries.days_late(due, dt.date(2024, 11, 5), calendar) == (2, 4)  # Monday and Tuesday
    assert queries.days_late(None, dt.date(2024, 11, 5), calendar) == (0, 0)


def test_filters_make_the_live_url_and_leave_out_empty_ones():
    assert queries.Filters(agency="KAB-BOGOR").live_url() == "/dashboard?agency=KAB-BOGOR&part=live"
    assert queries.Filters().as_query() == {}


def test_a_login_only_ever_returns_to_the_dashboard():
    assert safe_next("/dashboard/cases/01ABC") == "/dashboard/cases/01ABC"
    for hostile in ("https://evil.example/", "//evil.example/dashboard", "/v1/ops/backlog", None, ""):
        assert safe_next(hostile) == "/dashboard"
    problem = login_required("/dashboard?agency=KASN")
    assert problem.status == 303
    assert problem.headers["Location"] == "/dashboard/login?next=%2Fdashboard%3Fagency%3DKASN"
    assert COOKIE == "sbt_session"


def _permissions(dependant):
    for dependency in dependant.dependencies:
        permission = getattr(dependency.call, "permission", None)
        if permission:
            yield permission
        yield from _permissions(dependency)


def test_every_page_but_login_and_static_files_names_a_permission():
    public = {"/dashboard/login", "/dashboard/logout", "/dashboard/static/{name}"}
    pages = {route.path: list(_permissions(route.dependant)) for route in router.routes}
    assert {path for path, permissions in pages.items() if not permissions} == public
    assert pages["/dashboard"] == ["stats:read"] and pages["/dashboard/cases/{case_id}"] == ["timeline:read"]
    assert pages["/dashboard/nip"] == ["status:read"] and pages["/dashboard/stream"] == ["stats:read"]
    assert pages["/dashboard/obligations"] == ["ppk_worklist:read"]
