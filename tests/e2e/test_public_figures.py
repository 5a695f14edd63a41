"""The national figures for everyone: without a token, the same funnel as /v1/stats with the small cells
withheld, no NIP and no name, as JSON and as a page in Bahasa Indonesia."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e


async def test_anyone_reads_the_national_figures_with_small_cells_withheld(make_system):
    system = await make_system("intake", "status")
    # Eight in West Java, six in East Java, one in Central Java: the one would point at a person.
    places = [("JAWA BARAT", "PEMPROV-JABAR")] * 8 + [("JAWA TIMUR", "PEMPROV-JATIM")] * 6 + \
        [("JAWA TENGAH", "PEMPROV-JATENG")]
    nips = [random_nip() for _ in places]
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        for nip, (province, agency) in zip(nips, places, strict=True):
            filed = await client.post("/v1/reports", json=report_body(nip, province=province, agency_code=agency))
            assert filed.status_code == 201, filed.text

    async with httpx.AsyncClient(base_url=system["status"].url, timeout=10) as anyone:
        async def all_counted():
            answer = await anyone.get("/v1/public/figures")
            return answer if answer.status_code == 200 and answer.json()["total"]["reported"] == 15 else None

        answer = (await eventually(all_counted, 20, "fifteen cases in the public figures")).json()
        async with system.client("status", system.token("BKN", "observer")) as observer:
            stats = (await observer.get("/v1/stats")).json()
        assert answer["total"]["reported"] == stats["total"]["reported"] == 15
        assert answer["by_province"]["JAWA BARAT"]["reported"] == 8
        # The single case is withheld, and so is the smallest other count, which would give it away.
        assert answer["by_province"]["JAWA TENGAH"]["reported"] is None
        assert answer["by_province"]["JAWA TIMUR"]["reported"] is None
        assert answer["by_agency"]["PEMPROV-JATENG"]["reported"] is None
        assert answer["by_agency"]["PEMPROV-JABAR"]["reported"] == 8
        assert answer["min_cell"] == 5 and answer["withheld"] > 0
        assert not any(nip in str(answer) for nip in nips)

        page = await anyone.get("/dashboard/public")
        assert page.status_code == 200 and '<html lang="id">' in page.text
        assert "Angka nasional" in page.text and "Jawa Barat" in page.text
        assert not any(nip in page.text for nip in nips) and "Siti Rahmawati" not in page.text
        english = await anyone.get("/dashboard/public", params={"lang": "en"})
        assert "National figures" in english.text

        filtered = (await anyone.get("/v1/public/figures", params={"province": "JAWA TENGAH"})).json()
        assert filtered["total"]["reported"] is None  # one case in the province: withheld at every level

        bad = await anyone.get("/v1/public/figures", params={"province": "x" * 101})
        assert bad.status_code == 422 and "province" in bad.text
