"""``POST /v1/reports`` is served in front of the FastAPI app (services/intake/hot_path.py); what it does not
file goes on to the app unchanged. Both roads must answer as the one documented route does."""

from __future__ import annotations

import pytest

from tests.e2e.reports import random_nip, report_body

pytestmark = pytest.mark.e2e


async def test_refusals_pass_through_to_the_app_and_write_nothing(make_system):
    system = await make_system("intake")
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        too_long_key = await client.post("/v1/reports", json=report_body(), headers={"Idempotency-Key": "k" * 201})
        assert too_long_key.status_code == 422
        assert too_long_key.headers["content-type"].startswith("application/problem+json")
        assert "idempotency-key" in too_long_key.json()["errors"][0]["field"].lower()

        not_json = await client.post("/v1/reports", content=b"nip=1", headers={"Content-Type": "text/plain"})
        assert not_json.status_code == 422

        # Over the limit without a Content-Length (chunked): refused by the app's own body limit, as a 4xx.
        async def chunks():
            for _ in range(40):
                yield b" " * 4096

        chunked = await client.post("/v1/reports", content=chunks(), headers={"Content-Type": "application/json"})
        assert 400 <= chunked.status_code < 500

    assert await system.scalar("intake", "SELECT count(*) FROM reports") == 0
    assert await system.scalar("intake", "SELECT count(*) FROM outbox") == 0


async def test_a_nul_character_is_refused_naming_the_field_on_every_database(make_system):
    system = await make_system("intake")
    nip = random_nip()
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        refused = await client.post("/v1/reports", json=report_body(nip, description="Bukti\u0000terlampir."),
                                    headers={"traceparent": "00-" + "c" * 32 + "-" + "d" * 16 + "-01"})
        accepted = await client.post("/v1/reports", json=report_body(nip))
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "description", "reason": "must not contain a NUL character"}]
    assert refused.headers["traceparent"].split("-")[1] == "c" * 32
    assert accepted.status_code == 201 and accepted.json()["case_opened"] is True
    assert await system.scalar("intake", "SELECT count(*) FROM outbox") == 2
