"""``make screenshots``: every dashboard page in both languages, as the role that works there sees it.

A whole system is started in a temporary folder (real NATS, SQLite, every service as a process, as the
end-to-end tests do), the reference data imported, a small ``sbt demo`` played, a few reports left to verify
and to examine, and one local account made per role (``sbt user add``). Headless Chromium then signs each in
and writes ``<page>-<lang>.png`` under var/screenshots/ (whole pages). With ``--docs`` it also writes the
top of a few of them, small, to docs/screenshots/ for the README.

    .venv/bin/python -m tests.screenshots [--out var/screenshots] [--docs]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx
import pyotp

from services.cli.demo import play
from tests.e2e.accounts import PASSWORD, add_user
from tests.e2e.reports import random_nip, report_body
from tests.harness.browser import CHROMIUM, CHROMIUM_ARGS, NoBrowser, playwright_api
from tests.harness.ports import eventually
from tests.harness.system import ROOT, SbtSystem

SERVICES = ["intake", "recommendation", "sanction", "blocking", "status", "identity"]
LANGUAGES = ("id", "en")
# The pages shown in the README, cut to the browser's window: (file name, language).
DOCS = (("login", "id"), ("overview", "id"), ("obligations", "id"), ("case-decree", "id"), ("verification", "en"))
VIEWPORT = {"width": 1280, "height": 800}


async def _prepare(system: SbtSystem) -> dict[str, str]:
    """Reference data, a small national scenario, and cases waiting at each step; answers case ids."""
    urls = {name: service.url for name, service in system.services.items()}
    _tally, _figures, agreed = await play(system.settings, urls, cases=60, seed=2019, say=lambda _line: None)
    if not agreed:
        raise RuntimeError("the demo's figures did not settle")
    filed = []
    async with system.client("intake", system.token("BAWASLU", "reporter")) as intake:
        for agency, province in (("PEMPROV-JABAR", "JAWA BARAT"), ("KAB-BOGOR", "JAWA BARAT"),
                                 ("KOTA-SURABAYA", "JAWA TIMUR"), ("PEMPROV-NTT", "NUSA TENGGARA TIMUR")):
            answer = await intake.post("/v1/reports", json=report_body(random_nip(), agency_code=agency,
                                                                       province=province))
            answer.raise_for_status()
            filed.append(answer.json()["case_id"])
    async with system.client("recommendation", system.token("BAWASLU", "verifier")) as recommendation:
        for case_id in filed[:2]:  # two go on to examination, two wait for the task force
            async def verified(case_id: str = case_id) -> bool:
                answer = await recommendation.post(f"/v1/cases/{case_id}/verification", json={
                    "outcome": "accepted", "reason": "Bukti awal cukup; diteruskan untuk pemeriksaan."})
                return answer.status_code == 201

            await eventually(verified, 30, "the verification")
    async with system.client("status", system.token("BKN", "observer")) as status:
        async def at(stage: str, case_id: str) -> bool:
            answer = await status.get(f"/v1/cases/{case_id}/timeline")
            return answer.status_code == 200 and answer.json()["stage"] == stage

        for case_id in filed[:2]:
            await eventually(lambda case_id=case_id: at("awaiting_examination", case_id), 30, "the examination step")
        for case_id in filed[2:]:
            await eventually(lambda case_id=case_id: at("awaiting_verification", case_id), 30, "the verification step")
        worklist = (await status.get("/v1/agencies/PEMPROV-JABAR/cases")).json()["cases"]
        pending = next(c["case_id"] for c in worklist if not c["overdue"])  # the demo leaves some in time
    return {"examine": filed[0], "verify": filed[2], "decree": pending}


async def _sign_in(browser, base: str, username: str, lang: str, totp: str | None = None):  # noqa: ANN001, ANN202
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    await page.goto(f"{base}/dashboard/login?lang={lang}")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.login button[type=submit]")
    await page.wait_for_load_state()
    if totp:
        await page.fill("#password", PASSWORD)
        await page.fill("#totp", pyotp.TOTP(totp).now())
        await page.click("form.login button[type=submit]")
        await page.wait_for_load_state()
    return page


async def _shoot(page, base: str, path: str, out: Path, docs: Path | None, name: str, lang: str) -> None:  # noqa: ANN001
    await page.goto(base + path)
    await page.wait_for_load_state()
    await page.screenshot(path=str(out / f"{name}-{lang}.png"), full_page=True)
    if docs is not None and (name, lang) in DOCS:  # the window's worth only: small enough for the README
        await page.screenshot(path=str(docs / f"{name}-{lang}.png"))
    print(f"  {name}-{lang}.png", file=sys.stderr)  # noqa: T201 - progress on stderr


async def _take(system: SbtSystem, cases: dict[str, str], out: Path, docs: Path | None) -> None:
    api = playwright_api()
    add_user(system, "pengamat", "observer", agency="KEMENPANRB")
    add_user(system, "satgas.bawaslu", "verifier", agency="BAWASLU")
    add_user(system, "pemeriksa.bkn", "examiner", agency="BKN")
    blocker_secret = add_user(system, "blokir.bkn", "blocker", agency="BKN")
    add_user(system, "ppk.jabar", "ppk", agency="PEMPROV-JABAR", ppk_agency="PEMPROV-JABAR")
    base = system["status"].url
    async with system.client("status", system.token("BKN", "observer")) as status:
        overdue = (await status.get("/v1/agencies/PEMPROV-NTT/cases")).json()["cases"]
    blocked_case = next((c["case_id"] for c in overdue if c["blocked"]), cases["decree"])
    out.mkdir(parents=True, exist_ok=True)
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
    async with api.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for lang in LANGUAGES:
                context = await browser.new_context(viewport=VIEWPORT)
                page = await context.new_page()
                await _shoot(page, base, f"/dashboard/login?lang={lang}", out, docs, "login", lang)
                await context.close()
                pages = {
                    ("pengamat", None): (("overview", "/dashboard"), ("case", f"/dashboard/cases/{cases['decree']}"),
                                         ("nip", "/dashboard/nip")),
                    ("satgas.bawaslu", None): (("verification", "/dashboard/verification"),
                                               ("case-verification", f"/dashboard/cases/{cases['verify']}")),
                    ("pemeriksa.bkn", None): (("examination", "/dashboard/examination"),
                                              ("case-examination", f"/dashboard/cases/{cases['examine']}")),
                    ("ppk.jabar", None): (("obligations", "/dashboard/obligations"),
                                          ("case-decree", f"/dashboard/cases/{cases['decree']}")),
                    ("blokir.bkn", blocker_secret): (("blocking", "/dashboard/blocking?overdue=1"),
                                                     ("case-block", f"/dashboard/cases/{blocked_case}")),
                }
                for (username, secret), shots in pages.items():
                    page = await _sign_in(browser, base, username, lang, secret)
                    for name, path in shots:
                        await _shoot(page, base, path, out, docs, name, lang)
                    await page.context.close()
        finally:
            await browser.close()


async def main(out: Path, docs: Path | None) -> int:
    try:
        playwright_api()
    except NoBrowser as missing:
        print(f"screenshots: {missing}", file=sys.stderr)  # noqa: T201
        return 1
    with tempfile.TemporaryDirectory(prefix="sbt-screens-") as folder:
        system = SbtSystem(Path(folder), SERVICES, reference_data="published")
        await system.start()
        try:
            print("screenshots: a small demo first", file=sys.stderr)  # noqa: T201
            cases = await _prepare(system)
            await _take(system, cases, out, docs)
        except (httpx.HTTPError, RuntimeError, TimeoutError) as failed:
            print(f"screenshots: {failed}", file=sys.stderr)  # noqa: T201
            return 1
        finally:
            await system.stop()
    print(f"screenshots written to {out}", file=sys.stderr)  # noqa: T201
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "screenshots")
    parser.add_argument("--docs", action="store_true", help="also write a few, small, to docs/screenshots/")
    options = parser.parse_args()
    sys.exit(asyncio.run(main(options.out, ROOT / "docs" / "screenshots" if options.docs else None)))
