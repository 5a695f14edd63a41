"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright, against a
whole system on real NATS and a real database, after the national demo scenario.

It signs in as an observer made with ``sbt user add``, checks that the funnel on the page equals ``GET /v1/stats``, filters by
one agency, opens a case page, and sees a new report appear without reloading (server-sent events). The
screenshots are kept in test-artifacts/. Where no browser can be had, the test is skipped and says why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.accounts import PASSWORD, add_user
from tests.e2e.reports import random_nip, report_body
from tests.harness.browser import CHROMIUM, CHROMIUM_ARGS, NoBrowser, playwright_api
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
FIGURES = ("reported", "verified", "proven", "recommended", "followed_up", "awaiting_ppk", "overdue", "ever_blocked",
           "blocked", "unblocked_after_followup", "unblocked_by_hand", "block_declined", "not_proven", "rejected",
           "cancelled", "out_of_service")


def browser_or_skip():
    """Chromium and Playwright (tests/harness/browser.py), or the test is skipped saying why."""
    try:
        return playwright_api()
    except NoBrowser as missing:
        pytest.skip(str(missing))


async def stats(system, token: str, **filters: str) -> dict:
    async with system.client("status", token) as client:
        response = await client.get("/v1/stats", params=filters)
    assert response.status_code == 200, response.text
    return response.json()


async def play_scenario(system) -> str:
    """`sbt demo` (a small run) when it is there, else reports filed through the API; returns how."""
    try:
        from services.cli.demo import play
    except ImportError:
        play = None
    if play is not None and all(name in system.services for name in ("recommendation", "sanction", "blocking")):
        urls = {name: service.url for name, service in system.services.items()}
        _tally, _figures, agreed = await play(system.settings, urls, cases=40, seed=7, concurrency=8,
                                              say=lambda _line: None)
        assert agreed, "the demo's figures did not settle"
        return "sbt demo"
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        for index in range(24):
            body = report_body(random_nip(), agency_code=("PEMPROV-JABAR", "KAB-BOGOR", "KOTA-SURABAYA")[index % 3],
                               province=("JAWA BARAT", "JAWA BARAT", "JAWA TIMUR")[index % 3])
            assert (await client.post("/v1/reports", json=body)).status_code == 201
    return "reports"


async def page_figures(page) -> dict[str, int]:
    values = await page.eval_on_selector_all(
        "#live [data-figure]", "nodes => nodes.map(n => [n.dataset.figure, n.dataset.value])"
    )
    # The figure as a number (data-value): the text is written the reader's way (1.005 in Indonesian).
    return {name: int(text) for name, text in values}


async def test_the_dashboard_in_a_browser_matches_the_figures_and_updates_live(make_system):
    playwright_api = browser_or_skip()
    services = ["intake", "recommendation", "sanction", "blocking", "status", "identity"]
    from services.registry import SERVICES

    system = await make_system(*[s for s in services if s in SERVICES])
    how = await play_scenario(system)
    observer = system.token("BKN", "observer")

    async def settled():
        figures = await stats(system, observer)
        return figures if figures["total"]["reported"] > 0 else None

    await eventually(settled, 60, "figures in the status service")
    add_user(system, "pengamat", "observer", agency="BKN")
    ARTIFACTS.mkdir(exist_ok=True)
    base = system["status"].url

    async with playwright_api.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1360, "height": 1000})
            # Without a session the dashboard asks the person to sign in, then comes back to where it was sent from.
            await page.goto(f"{base}/dashboard")
            assert "/dashboard/login" in page.url
            await page.fill("#username", "pengamat")
            await page.fill("#password", PASSWORD)
            await page.click("form.login button[type=submit]")
            await page.wait_for_url(f"{base}/dashboard")
            cookie = next(c for c in await page.context.cookies() if c["name"] == "sbt_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

            # The national funnel on the page is the one GET /v1/stats answers.
            figures = await stats(system, observer)
            assert await page_figures(page) == {name: figures["total"][name] for name in FIGURES}
            await page.screenshot(path=str(ARTIFACTS / "dashboard-national.png"), full_page=True)

            # Filter by one agency: the page reloads with the filter and its figures are the filtered ones.
            # (the agency with the most overdue cases, so that its overdue list has rows to check)
            agency = max(figures["by_agency"], key=lambda code: (figures["by_agency"][code]["overdue"], code))
            await page.select_option("select[data-filter=agency]", agency)
            await page.wait_for_url(f"**/dashboard?*agency={agency}*")
            filtered = await stats(system, observer, agency=agency)
            assert await page_figures(page) == {name: filtered["total"][name] for name in FIGURES}
            assert filtered["total"]["reported"] < figures["total"]["reported"] or len(figures["by_agency"]) == 1
            rows = await page.eval_on_selector_all("#live tr[data-case]", "rows => rows.map(r => r.dataset.case)")
            overdue_rows = await page.eval_on_selector_all("#live table.overdue tbody tr", "rows => rows.length")
            assert overdue_rows == filtered["total"]["overdue"]
            assert rows, "the filtered page lists the agency's latest cases"

            # A case page with its timeline.
            await page.click(f"#live tr[data-case='{rows[0]}'] a")
            await page.wait_for_url(f"**/dashboard/cases/{rows[0]}")
            timeline = await page.eval_on_selector_all("ol.timeline li", "items => items.map(i => i.dataset.eventType)")
            assert timeline[:1] == ["sbt.case.opened.v1"] and "sbt.report.received.v1" in timeline
            await page.screenshot(path=str(ARTIFACTS / "dashboard-case.png"), full_page=True)

            # Back on the filtered overview, a new report appears without reloading the page.
            await page.go_back()
            await page.wait_for_selector("#live-state.on", timeout=10_000)
            await page.evaluate("window.__notReloaded = true")
            before = (await page_figures(page))["reported"]
            nip = random_nip()
            async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
                response = await client.post("/v1/reports", json=report_body(nip, agency_code=agency))
            assert response.status_code == 201, response.text
            new_case = response.json()["case_id"]
            await page.wait_for_selector(f"#live tr[data-case='{new_case}']", timeout=15_000)
            assert await page.evaluate("window.__notReloaded === true")
            assert (await page_figures(page))["reported"] == before + 1
            await page.screenshot(path=str(ARTIFACTS / "dashboard-live.png"), full_page=True)

            # The NIP box answers from the same read model.
            await page.fill("#nip-box", nip)
            await page.click("form.nip-check button")
            await page.wait_for_selector("p.verdict")
            assert "Tidak diblokir" in await page.inner_text("p.verdict")  # Bahasa Indonesia by default
        finally:
            await browser.close()
    print(f"dashboard checked after {how}")  # noqa: T201 - shown with -s, says which scenario ran
