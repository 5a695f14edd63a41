"""The attack: a PPK read another agency's case, its stages, reasons and timeline through the dashboard,
whose pages were not scoped as the API is. Now every door asks ``shared.authz.scope_of``: the PPK of
another agency gets the case page and its live fragment answered 404, as if there were no such case (as
``GET /v1/cases/{id}/timeline`` answers it), and the NIP page shows it nothing of the case, as
``GET /v1/asn/{nip}/status`` does; with a bearer token or with the session cookie alike."""

from __future__ import annotations

import httpx
import pytest

from services.status.dashboard.auth import COOKIE
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

OWN, OTHER = "PEMPROV-JABAR", "PEMKOT-BANDUNG"


def _cookie_client(system, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=system["status"].url, cookies={COOKIE: token}, timeout=10)


async def test_a_ppk_sees_only_its_own_agencys_cases_on_the_dashboard(make_system):
    system = await make_system("intake", "status")
    nip = random_nip()
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        filed = await client.post("/v1/reports", json=report_body(nip, agency_code=OWN))
    assert filed.status_code == 201, filed.text
    case_id = filed.json()["case_id"]

    async def in_status():
        async with system.client("status", system.token("BKN", "observer")) as client:
            return (await client.get(f"/dashboard/cases/{case_id}")).status_code == 200

    await eventually(in_status, 20, "the case in the status")
    own_ppk = system.token(OWN, "ppk", ppk_agency=OWN)
    # The attacker: a PPK of another agency, whose token names its own agency (as the identity service makes it).
    other_ppk = system.token(OTHER, "ppk", ppk_agency=OTHER)
    pages = (f"/dashboard/cases/{case_id}", f"/dashboard/cases/{case_id}?part=live")

    for how, client_of in (("bearer token", lambda token: system.client("status", token)),
                           ("session cookie", lambda token: _cookie_client(system, token))):
        async with client_of(own_ppk) as own, client_of(other_ppk) as other:
            for path in pages:
                seen = await own.get(path)
                assert seen.status_code == 200 and case_id in seen.text, (how, path)
                refused = await other.get(path)
                assert refused.status_code == 404, (how, path, refused.status_code)
                assert nip not in refused.text and "timeline" not in refused.text.lower(), (how, path)
                # Not revealing that the case exists: the same answer as for a case that does not.
                missing = await other.get(path.replace(case_id, "01JNOSUCHCASE000000000000"))
                assert refused.text.replace(case_id, "") == missing.text.replace("01JNOSUCHCASE000000000000", "")

            mine = await own.get("/dashboard/nip", params={"nip": nip})
            assert mine.status_code == 200 and case_id in mine.text, how
            theirs = await other.get("/dashboard/nip", params={"nip": nip})
            assert theirs.status_code == 200 and case_id not in theirs.text and "0 kasus" in theirs.text, how
            # As the API answers the same PPK for the same civil servant: none of the case.
            api = await other.get(f"/v1/asn/{nip}/status") if how == "bearer token" else None
            assert api is None or api.json()["cases"] == []

            # The figures are not the PPK's to read at all (stats:read), its own agency's or another's.
            for path in ("/dashboard", "/dashboard?part=live", f"/dashboard?agency={OWN}", "/dashboard/stream"):
                assert (await other.get(path)).status_code == 403, (how, path)
