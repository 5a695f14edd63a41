"""The dashboard's pure parts: charts, days late, where a login may send a person back to, and that every
page but the login form and the static files names a permission."""

from __future__ import annotations

import datetime as dt
import re

from services.status.dashboard import charts, queries, refusals, sorting
from services.status.dashboard.auth import COOKIE, login_required, safe_next
from services.status.dashboard.routes import router
from services.status.models import CaseRow
from shared.calendar import WorkingCalendar
from shared.i18n import translations


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
    # Each work queue and each decision's form asks the permission of the service's own route it leads to.
    assert pages["/dashboard/verification"] == ["case:verify"] and pages["/dashboard/examination"] == ["case:examine"]
    assert pages["/dashboard/blocking"] == ["block:write"]
    assert {path.rsplit("/", 1)[1]: permissions for path, permissions in pages.items()
            if path.startswith("/dashboard/cases/{case_id}/")} == {
        "verification": ["case:verify"], "clarification": ["case:examine"], "examination": ["case:examine"],
        "followup": ["followup:record"], "reminder": ["followup:remind"],
        "block": ["block:write"], "unblock": ["block:write"]}


def test_a_list_sorts_only_by_its_whitelisted_keys_and_a_click_turns_the_order():
    allowed = queries.CASE_SORTS
    assert sorting.parse("-due", allowed, "case") == sorting.Sort("due", descending=True)
    for hostile in ("state", "-case_id; drop table", "", None, "--due"):
        assert sorting.parse(hostile, allowed, "-updated") == sorting.Sort("updated", descending=True)
    chosen = sorting.parse("due", allowed, "case")
    assert chosen.toggled("due").param == "-due" and chosen.toggled("nip").param == "nip"
    assert chosen.aria("due") == "ascending" and chosen.aria("nip") == "none"
    order = [str(clause) for clause in sorting.order_by(chosen.toggled("due"), allowed, CaseRow.case_id)]
    assert order == ["case_status.due_date IS NULL", "case_status.due_date DESC", "CaseRow.case_id"]


def test_overview_links_keep_filters_and_the_other_lists_and_start_a_resorted_list_on_its_first_page():
    filters = queries.Filters(agency="KAB-BOGOR", overdue=True)
    pages = queries.Pages(overdue=3, recent=2, recent_sort="nip")
    url = filters.sort_link(pages, "overdue", "due")
    assert url == "/dashboard?agency=KAB-BOGOR&overdue=1&recent_page=2&recent_sort=nip&overdue_sort=-due"
    assert pages.sort("blocked") == sorting.Sort("since", descending=True)  # the default: newest block first
    assert queries.Pages(blocked_sort="reason").sort("blocked").key == "since"  # not a key of that list


def test_a_refusal_is_one_line_in_the_readers_language():
    indonesian = translations("id").gettext
    lighter = {"status": 422, "title": "invalid request", "errors": [
        {"field": "reason", "reason": "required: light is lighter than the recommended moderate"}]}
    assert refusals.one_line(422, lighter, indonesian) == "Alasan: wajib diisi bila sanksi lebih ringan dari rekomendasi"
    early = {"errors": [{"field": "decree_date", "reason": "must not be before the recommendation was issued "
                                                          "(2024-11-18)"}]}
    assert refusals.one_line(422, early, str) == "Decree date: must not be before the recommendation was issued " \
                                                "(2024-11-18)"
    assert refusals.one_line(422, early, indonesian) == \
        "Tanggal SK: tidak boleh sebelum rekomendasi diterbitkan (2024-11-18)"
    # A reason the table does not know is kept as the service said it, after the field's label.
    odd = {"errors": [{"field": "legal_basis", "reason": "something new"}]}
    assert refusals.one_line(422, odd, indonesian) == "Dasar hukum: something new"
    assert refusals.one_line(403, {"title": "not in role"}, indonesian).startswith("Instansi Anda tidak memegang")
    assert refusals.one_line(409, {"title": "conflict"}, str).startswith("This case is no longer at this step")
    assert refusals.one_line(None, None, str) == refusals.one_line(503, {}, str)
    assert "\n" not in refusals.one_line(422, lighter, str)
