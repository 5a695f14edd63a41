"""The people who do the work, in a real browser (Debian's Chromium driven by Playwright), against the whole
system on real NATS and a real database: one case goes from report to sanction through the dashboard's
forms alone, each signed in with a local account made by ``sbt user add``.

A verifier (who also switches the language) accepts the report, the examining authority finds it proven
(after one refusal, said in Indonesian), BKN's blocker blocks the personnel data, and the PPK records the
decree (after one refusal: a lighter sanction needs a reason); meanwhile an observer's overview shows the
funnel move without a reload. A PPK of another agency cannot reach the case; a wrong password, an expired
session and a form without its token are refused. Every form goes through the deciding service's API: the
case's state there is read back at the end.
"""

from __future__ import annotations


import pyotp
import pytest

from shared.auth import mint_token
from tests.e2e.accounts import PASSWORD, add_user
from tests.e2e.reports import random_nip, report_body
from tests.e2e.test_dashboard_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, browser_or_skip, page_figures
from tests.e2e.test_dashboard_language import _english_msgids, _leftover_english
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

OWN, OTHER = "PEMPROV-JABAR", "PEMKOT-BANDUNG"
SERVICES = ("intake", "recommendation", "sanction", "blocking", "status", "identity")


async def _stage(system, case_id: str) -> str | None:
    async with system.client("status", system.token("BKN", "observer")) as client:
        answer = await client.get(f"/v1/cases/{case_id}/timeline")
    return answer.json()["stage"] if answer.status_code == 200 else None


async def _sign_in(browser, base: str, username: str, *, totp: str | None = None, lang: str | None = None):
    context = await browser.new_context(viewport={"width": 1360, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{base}/dashboard/login" + (f"?lang={lang}" if lang else ""))
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.login button[type=submit]")
    if totp is not None:
        await page.wait_for_selector("#totp")
        await page.fill("#password", PASSWORD)
        await page.fill("#totp", pyotp.TOTP(totp).now())
        await page.click("form.login button[type=submit]")
    await _until(page, "!location.pathname.endsWith('/login')")
    return page


async def _until(page, expression: str, timeout: float = 15) -> None:
    """Until ``expression`` is true in the page. (Playwright's wait_for_function evaluates a string inside
    the page, which the dashboard's Content-Security-Policy forbids; this asks from outside, over CDP.)"""
    async def true() -> bool:
        try:
            return bool(await page.evaluate(expression))
        except Exception:  # noqa: BLE001 - the page is between two documents (a navigation): ask again
            return False

    await eventually(true, timeout, expression)


async def _submit(page, action: str) -> None:
    async with page.expect_navigation():
        await page.click(f"form[data-action={action}] button[type=submit]")


async def test_each_role_acts_from_the_browser_and_the_shared_status_follows(make_system):
    playwright_api = browser_or_skip()
    # The shipped agencies and violation catalogue, published: names on the pages, defaults for the finding.
    system = await make_system(*SERVICES, reference_data="published")
    nip = random_nip()
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        filed = await client.post("/v1/reports", json=report_body(nip, agency_code=OWN, province="JAWA BARAT"))
    assert filed.status_code == 201, filed.text
    case_id = filed.json()["case_id"]
    await eventually(lambda: _awaiting(system, case_id, "awaiting_verification"), 30, "the case in the status")

    add_user(system, "satgas.bawaslu", "verifier", agency="BAWASLU")
    add_user(system, "pemeriksa.bkn", "examiner", agency="BKN")
    blocker_secret = add_user(system, "blokir.bkn", "blocker", agency="BKN")
    add_user(system, "ppk.jabar", "ppk", agency=OWN, ppk_agency=OWN)
    add_user(system, "ppk.bandung", "ppk", agency=OTHER, ppk_agency=OTHER)
    add_user(system, "pengamat", "observer", agency="KEMENPANRB")
    english = _english_msgids()
    ARTIFACTS.mkdir(exist_ok=True)
    base = system["status"].url

    async with playwright_api.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            # A wrong password: the form again, refused, in Indonesian.
            context = await browser.new_context()
            tab = await context.new_page()
            await tab.goto(f"{base}/dashboard/login")
            await tab.fill("#username", "satgas.bawaslu")
            await tab.fill("#password", "bukan kata sandinya")
            async with tab.expect_response(lambda r: r.request.method == "POST") as refused:
                await tab.click("form.login button[type=submit]")
            assert (await refused.value).status == 401
            assert "Nama pengguna atau kata sandi salah" in await tab.inner_text("p.error")
            assert not [c for c in await context.cookies() if c["name"] == "sbt_session"]
            await context.close()

            # The observer's overview stays open the whole time: the funnel moves on it without a reload.
            overview = await _sign_in(browser, base, "pengamat")
            assert overview.url == f"{base}/dashboard"
            assert not await overview.query_selector("form.decide")  # an observer reads, it has no forms
            await overview.wait_for_selector("#live-state.on", timeout=10_000)
            await overview.evaluate("window.__notReloaded = true")
            before = await page_figures(overview)

            # The verifier switches to English and back, then works through its queue.
            verifier = await _sign_in(browser, base, "satgas.bawaslu")
            await verifier.click("nav.languages a[hreflang=en]")
            await _until(verifier, "document.documentElement.lang === 'en'")
            assert "Reports to verify" in await verifier.inner_text("nav.work")
            await verifier.click("nav.languages a[hreflang=id]")
            await _until(verifier, "document.documentElement.lang === 'id'")
            await verifier.click("nav.work a[data-queue=verification]")
            await verifier.wait_for_selector(f"tr[data-case='{case_id}']")
            assert '<html lang="id">' in await verifier.content()
            assert not _leftover_english(await verifier.content(), english)
            await verifier.screenshot(path=str(ARTIFACTS / "work-verification-queue.png"), full_page=True)
            await verifier.click(f"tr[data-case='{case_id}'] a.act")
            await verifier.wait_for_selector("form[data-action=verification]")

            # A form without its token is refused, and nothing is decided.
            await verifier.eval_on_selector("form[data-action=verification] input[name=csrf_token]", "e => e.remove()")
            await verifier.check("form[data-action=verification] input[value=accepted]")
            await verifier.fill("#verification-reason", "Bukti awal cukup.")
            async with verifier.expect_response(lambda r: r.request.method == "POST") as forged:
                await verifier.click("form[data-action=verification] button[type=submit]")
            assert (await forged.value).status == 403
            assert await _stage(system, case_id) == "awaiting_verification"

            await verifier.goto(f"{base}/dashboard/cases/{case_id}")
            await verifier.check("form[data-action=verification] input[value=accepted]")
            await verifier.fill("#verification-reason", "Bukti awal cukup; diteruskan untuk pemeriksaan.")
            await _submit(verifier, "verification")
            assert verifier.url == f"{base}/dashboard/cases/{case_id}"
            assert "Verifikasi telah dicatat" in await verifier.inner_text("p.flash")
            assert await verifier.query_selector("#live span.stage.awaiting_examination")
            await verifier.reload()
            assert not await verifier.query_selector("p.flash")  # said once
            await _until(overview,
                f"document.querySelector('#live [data-figure=verified]').dataset.value == '{before['verified'] + 1}'",
                timeout=15_000)

            # The examining authority: a level of another category is refused in one Indonesian line,
            # what was entered stays, then the finding with the catalogue's defaults is recorded.
            examiner = await _sign_in(browser, base, "pemeriksa.bkn")
            await examiner.goto(f"{base}/dashboard/examination")
            await examiner.click(f"tr[data-case='{case_id}'] a.act")
            # Presumption of innocence: the civil servant's clarification first, or no proven finding.
            await examiner.check("form[data-action=examination] input[value=proven]")
            await examiner.fill("#examination-reason", "Terbukti.")
            await _submit(examiner, "examination")
            line = await examiner.inner_text("p.error[data-refused=examination]")
            assert "klarifikasi" in line.lower(), line
            await examiner.check("form[data-action=clarification] input[value=given]")
            await examiner.fill("#clarification-summary", "Mengakui membagikan konten; menyatakan tidak tahu aturannya.")
            await _submit(examiner, "clarification")
            assert "Klarifikasi" in await examiner.inner_text("p.flash")
            await examiner.check("form[data-action=examination] input[value=proven]")
            await examiner.select_option("#examination-category", "ethics")
            await examiner.select_option("#examination-level", "severe")
            await examiner.fill("#examination-reason", "Terbukti berdasarkan klarifikasi dan bukti foto.")
            await _submit(examiner, "examination")
            line = await examiner.inner_text("p.error[data-refused=examination]")
            assert line == "Tingkat sanksi: bukan sanksi dari kategori yang dipilih", line
            assert await examiner.input_value("#examination-reason") == "Terbukti berdasarkan klarifikasi dan bukti foto."
            await examiner.select_option("#examination-category", "")
            await examiner.select_option("#examination-level", "")
            await _submit(examiner, "examination")
            assert "Temuan telah dicatat" in await examiner.inner_text("p.flash")
            await eventually(lambda: _awaiting(system, case_id, "awaiting_ppk"), 30, "the case awaiting its PPK")
            await _until(overview,
                f"document.querySelector('#live [data-figure=recommended]').dataset.value == "
                f"'{before['recommended'] + 1}'")

            # A PPK of another agency: not in its queue, no case page, no other agency's queue.
            stranger = await _sign_in(browser, base, "ppk.bandung")
            assert stranger.url == f"{base}/dashboard/obligations"
            assert case_id not in await stranger.content() and nip not in await stranger.content()
            assert (await stranger.goto(f"{base}/dashboard/cases/{case_id}")).status == 404
            assert (await stranger.goto(f"{base}/dashboard/obligations?agency={OWN}")).status == 403
            # Nor can it post the decree with its own valid form token: the case is not there for it.
            await stranger.goto(f"{base}/dashboard/obligations")
            token = await stranger.get_attribute("input[name=csrf_token]", "value")
            posted = await stranger.request.post(
                f"{base}/dashboard/cases/{case_id}/followup", form={
                    "csrf_token": token, "decree_number": "800/9/X/2026", "decree_date": "2026-01-05",
                    "sanction_level": "moral_open", "effective_from": "2026-01-05"}, max_redirects=0)
            assert posted.status == 404 and nip not in await posted.text()

            # BKN's blocker (with its authenticator code) blocks the personnel data by hand, with a reason.
            blocker = await _sign_in(browser, base, "blokir.bkn", totp=blocker_secret)
            await blocker.goto(f"{base}/dashboard/blocking")
            await blocker.click(f"tr[data-case='{case_id}'] a.act")
            await blocker.fill("#block-reason", "Pemblokiran manual sambil menunggu keputusan PPK.")
            await _submit(blocker, "block")
            assert "Data kepegawaian telah diblokir" in await blocker.inner_text("p.flash")
            assert await blocker.query_selector("form[data-action=unblock]")

            # The PPK lands on its obligations, sorts them, downloads them, and records the decree.
            ppk = await _sign_in(browser, base, "ppk.jabar")
            assert ppk.url == f"{base}/dashboard/obligations"
            assert "Gubernur Jawa Barat" in await ppk.inner_text("h1")
            row = await ppk.inner_text(f"tr[data-case='{case_id}']")
            assert nip in row and "sanksi moral terbuka" in row
            assert not _leftover_english(await ppk.content(), english)
            async with ppk.expect_navigation():
                await ppk.click("th a[data-sort=due]")
            assert ppk.url.endswith("/dashboard/obligations?sort=-due"), ppk.url
            assert await ppk.get_attribute("th:has(a[data-sort=due])", "aria-sort") == "descending"
            exported = await ppk.request.get(f"{base}/dashboard/obligations?sort=-due&format=csv")
            assert exported.status == 200 and case_id in await exported.text()
            assert "Gubernur Jawa Barat" in await exported.text()
            await ppk.screenshot(path=str(ARTIFACTS / "work-obligations.png"), full_page=True)
            await ppk.click(f"tr[data-case='{case_id}'] a.act")
            await ppk.fill("#followup-number", "800/17/BKD/2026")
            await ppk.select_option("#followup-level", "moral_closed")  # lighter than recommended, no reason
            await _submit(ppk, "followup")
            line = await ppk.inner_text("p.error[data-refused=followup]")
            assert line == "Alasan: wajib diisi bila sanksi lebih ringan dari rekomendasi", line
            assert await ppk.input_value("#followup-number") == "800/17/BKD/2026"
            await ppk.select_option("#followup-level", "moral_open")
            await _submit(ppk, "followup")
            assert "Keputusan telah dicatat" in await ppk.inner_text("p.flash")
            assert await ppk.query_selector("#live span.stage.sanctioned")
            assert "800/17/BKD/2026" in await ppk.inner_text("#live")
            await ppk.screenshot(path=str(ARTIFACTS / "work-decree-recorded.png"), full_page=True)
            await _until(overview,
                f"document.querySelector('#live [data-figure=followed_up]').dataset.value == "
                f"'{before['followed_up'] + 1}'")
            assert await overview.evaluate("window.__notReloaded === true")

            # An expired session: back to the sign-in form, which says so.
            expired = mint_token(system.settings, agency=OWN, roles=["ppk"], ppk_agency=OWN, ttl_seconds=-60)
            await ppk.context.add_cookies([{"name": "sbt_session", "value": expired, "url": f"{base}/dashboard"}])
            await ppk.goto(f"{base}/dashboard/obligations")
            assert "/dashboard/login" in ppk.url and "expired=1" in ppk.url
            assert "Sesi Anda telah berakhir" in await ppk.inner_text("p.error")
        finally:
            await browser.close()

    # The decisions were the services' own: each service holds the case as the forms left it.
    async with system.client("sanction", system.token("BKN", "admin")) as client:
        followup = (await client.get(f"/v1/followups/{case_id}")).json()
    assert followup["state"] == "done" and followup["followup"]["decree_number"] == "800/17/BKD/2026"
    assert followup["followup"]["recorded_by_agency"] == OWN
    async with system.client("recommendation", system.token("BKN", "admin")) as client:
        case = (await client.get(f"/v1/cases/{case_id}")).json()
    assert case["verification"]["decided_by_agency"] == "BAWASLU"
    assert case["examination"]["examining_authority"] == "BKN" and case["examination"]["sanction_level"] == "moral_open"
    await eventually(lambda: _awaiting(system, case_id, "sanctioned"), 30, "the sanction in the shared status")


async def _awaiting(system, case_id: str, stage: str) -> bool:
    return await _stage(system, case_id) == stage
