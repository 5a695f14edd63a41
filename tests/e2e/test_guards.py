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
        async def logged_checks():  # the access log is written in batches
            entries = (await admin.get("/v1/ops/access-log", params={"limit": 100})).json()["entries"]
            checks = [e for e in entries if e["route"] == "/v1/public/complaints/{number}"]
            return checks if len(checks) == 5 else None

        checks = await eventually(logged_checks, 10, "five complaint checks in the access log")
    assert {e["client_ip"] for e in checks} == {"127.0.0.1"}


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
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        refused = await browser.post("/dashboard/login", data={"csrf_token": token, "username": "siti.rahma"})
        assert refused.status_code == 422
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

    # The OpenAPI pages are served from the service's own files and started without inline script: a
    # policy that names no other host and allows no inline script, and still no framing.
    async with system.client("status") as anyone:
        for path in ("/docs", "/redoc"):
            docs = await anyone.get(path)
            assert docs.status_code == 200
            policy = docs.headers["content-security-policy"]
            assert "https:" not in policy and "frame-ancestors 'none'" in policy, policy
            assert "script-src 'self';" in policy and "'unsafe-eval'" not in policy, policy
            assert docs.headers["x-frame-options"] == "DENY"
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", docs.text), docs.text
            # Every file the page loads is the service's own, and it is there.
            assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
            assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
            for asset in assets:
                assert (await anyone.get(asset)).status_code == 200, asset
            assert "openapi.json" in docs.text
        problem = await anyone.get("/v1/no-such-route")
        assert problem.status_code == 404 and problem.headers["x-content-type-options"] == "nosniff"


WRITE_LIMIT = {"SBT_WRITE_BURST": "4", "SBT_WRITE_RATE_PER_MINUTE": "1"}  # no refill within a test


def _assert_write_refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 429 and problem["title"] == "too many requests"


async def test_the_write_limit_holds_across_replicas_sharing_the_database_and_spares_other_clients(make_system):
    system = await make_system("intake", extra_env=WRITE_LIMIT)
    replica = system.add_replica("intake")
    token = system.token("BAWASLU", "reporter", client_id="bawaslu-case-system")
    urls = [system["intake"].url, replica.url]

    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        # Alternating between the two processes: one budget of four, not four each.
        answers = [await client.post(f"{urls[n % 2]}/v1/reports", json=report_body()) for n in range(8)]
        assert [a.status_code for a in answers[:4]] == [201] * 4, [a.text for a in answers]
        for refused in answers[4:]:
            _assert_write_refused(refused)
        # Reads are not counted: the client still reads what it filed.
        report_id = answers[0].json()["report_id"]
        assert (await client.get(f"{urls[1]}/v1/reports/{report_id}")).status_code == 200

    # Another client of the same agency has its own budget.
    other = system.token("BAWASLU", "reporter", client_id="bawaslu-field-app")
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {other}"}, timeout=10) as client:
        assert (await client.post(f"{urls[1]}/v1/reports", json=report_body())).status_code == 201
    assert await system.scalar("intake", "SELECT count(*) FROM reports") == 5
    assert await system.scalar("intake", "SELECT count(*) FROM write_rate") == 2


async def test_the_write_limit_covers_writes_through_the_ordinary_routes_too(make_system):
    system = await make_system("identity", extra_env=WRITE_LIMIT)
    replica = system.add_replica("identity")
    urls = [system["identity"].url, replica.url]
    admin = system.token("SBT", "admin", client_id="sbt-ops")
    body = {"name": "Bawaslu case system", "agency_code": "BAWASLU", "roles": ["reporter"]}
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {admin}"}, timeout=10) as client:
        answers = [await client.post(f"{urls[n % 2]}/v1/clients", json=body) for n in range(6)]
        assert [a.status_code for a in answers[:4]] == [201] * 4, [a.text for a in answers]
        for refused in answers[4:]:
            _assert_write_refused(refused)
        assert (await client.get(f"{urls[0]}/v1/clients")).status_code == 200
