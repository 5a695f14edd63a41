"""Guards against a caller with a foothold: security headers on every answer, X-Forwarded-For believed only
from a configured proxy, and a per-client limit on authenticated writes that replicas share."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.reports import report_body
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

MISSING_COMPLAINT = "/v1/public/complaints/SBT-2024-0000-0000-0000"


async def test_with_no_trusted_proxy_a_made_up_forwarded_address_does_not_escape_the_public_limit(make_system):
    system = await make_system("intake", extra_env={"SBT_PUBLIC_BURST": "3", "SBT_PUBLIC_RATE_PER_MINUTE": "1"})
    async with system.client("intake") as local:
        codes = [(await local.get(MISSING_COMPLAINT, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
                 for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]

    async with system.client("intake", system.token("SBT", "admin")) as admin:
        entries = (await admin.get("/v1/ops/access-log", params={"limit": 100})).json()["entries"]
    assert {e["client_ip"] for e in entries if e["route"] == "/v1/public/complaints/{number}"} == {"127.0.0.1"}


STRICT = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'",
          "form-action 'self'")
# An inline <script> (one without src), an inline event handler, an inline style.
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=|<style", re.IGNORECASE)


def _assert_guarded_page(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html"), response.headers
    policy = response.headers["content-security-policy"]
    assert all(part in policy for part in STRICT), policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    # What the policy forbids is not on the page either, so the page works under it.
    assert not INLINE.search(response.text), INLINE.search(response.text)


async def test_every_html_answer_carries_a_strict_policy_and_json_answers_nosniff(make_system):
    system = await make_system("intake", "status")
    async with system.client("intake", system.token("BAWASLU", "reporter")) as reporter:
        filed = await reporter.post("/v1/reports", json=report_body())
        assert filed.status_code == 201, filed.text
        # Filed through intake's hot path: its answers carry the common headers too.
        assert filed.headers["x-content-type-options"] == "nosniff"
        assert filed.headers["referrer-policy"] == "no-referrer"
    case_id = filed.json()["case_id"]

    async with system.client("status") as browser:
        login = await browser.get("/dashboard/login")
        assert login.status_code == 200
        _assert_guarded_page(login)
        refused = await browser.post("/dashboard/login", data={"token": "not-a-token"})
        assert refused.status_code == 401
        _assert_guarded_page(refused)
        for name in ("dashboard.js", "dashboard.css"):
            static = await browser.get(f"/dashboard/static/{name}")
            assert static.status_code == 200 and static.headers["x-content-type-options"] == "nosniff"

    async with system.client("status", system.token("BKN", "observer")) as observer:
        async def case_page():
            page = await observer.get(f"/dashboard/cases/{case_id}")
            return page if page.status_code == 200 else None

        _assert_guarded_page(await eventually(case_page, 15, "the case page"))
        _assert_guarded_page(await observer.get("/dashboard"))
        missing = await observer.get("/dashboard/cases/01NOSUCHCASE00000000000000")
        assert missing.status_code == 404
        _assert_guarded_page(missing)
        status = await observer.get("/v1/stats")
        assert status.headers["x-content-type-options"] == "nosniff"
        assert "x-frame-options" not in status.headers

    # The OpenAPI pages load Swagger UI and ReDoc from their CDN with an inline script: a policy of their
    # own that allows exactly that, and still no framing.
    async with system.client("status") as anyone:
        for path in ("/docs", "/redoc"):
            docs = await anyone.get(path)
            assert docs.status_code == 200
            policy = docs.headers["content-security-policy"]
            assert "https://cdn.jsdelivr.net" in policy and "frame-ancestors 'none'" in policy
            assert docs.headers["x-frame-options"] == "DENY"
        problem = await anyone.get("/v1/no-such-route")
        assert problem.status_code == 404 and problem.headers["x-content-type-options"] == "nosniff"
