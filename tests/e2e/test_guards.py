"""Guards against a caller with a foothold: security headers on every answer, X-Forwarded-For believed only
from a configured proxy, and a per-client limit on authenticated writes that replicas share."""

from __future__ import annotations

import pytest

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
