"""Sign-in with an agency's own OpenID provider, end to end: a real OpenID Certified provider
(oidc-provider on Node.js, PKCE required) started by the test, real identity, intake and status processes
on a real database and NATS, and an HTTP client playing the browser (it keeps cookies for both sites and
follows each redirect by hand, so every hop can be looked at).

A PPK signs in at the provider and lands on its own agency's obligations with the role and agency its
claims map to, in a session like a password sign-in's; a PPK of another agency sees nothing of that case.
A tampered state, a replayed code, an answer without the sign-in's transaction, a person whose claims map
to no role, and a blocker without a second factor are refused with one line on the sign-in page. PKCE is
used, and the provider will not give a code without it nor exchange one without the verifier."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
import pytest

from tests.e2e.accounts import csrf_of
from tests.e2e.test_dashboard_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, browser_or_skip
from tests.e2e.reports import random_nip, report_body
from tests.e2e.test_authorization_matrix import OTHER, OWN, _publish_recommendation
from tests.harness.oidc_provider import OidcProvider, node_or_skip
from tests.harness.ports import eventually
from tests.harness.system import SbtSystem

pytestmark = pytest.mark.e2e

CLIENT_ID, CLIENT_SECRET = "sbt-dashboard", "a-client-secret-only-for-tests"
PASSWORD = "sandi rahasia penyedia"
PROVIDER_NAME = "SSO Instansi"
ROLE_MAP = {"sbt-ppk": "ppk", "sbt-pengamat": ["observer"], "sbt-blokir": "blocker", "sbt-kanreg": "bkn_regional"}


def _account(name: str, groups: list[str], agency: str, mfa: bool = False, kanreg: str | None = None) -> dict:
    claims = {"name": name, "preferred_username": name.lower().replace(" ", "."), "groups": groups,
              "instansi": agency}
    if kanreg is not None:
        claims["kanreg"] = kanreg
    return {"password": PASSWORD, "mfa": mfa, "claims": claims}


ACCOUNTS = {
    "ppk.jabar": _account("Dedi Mulyadi", ["pegawai", "sbt-ppk"], OWN.lower()),  # the code in any case
    "ppk.bandung": _account("Yana Mulyana", ["sbt-ppk"], OTHER),
    "pengamat.bkn": _account("Siti Rahma", ["sbt-pengamat"], "BKN"),
    "tamu": _account("Tamu Instansi", ["pegawai"], OWN),  # a group that the map does not name
    "blokir.bkn": _account("Bima Blokir", ["sbt-blokir"], "BKN"),  # a blocker without a second factor
    "blokir.mfa": _account("Bunga Blokir", ["sbt-blokir"], "BKN", mfa=True),
    # BKN regional office heads: Kanreg III (Bandung) in any case, one without an office, one with an unknown.
    "kanreg.bandung": _account("Rina Kanreg", ["sbt-kanreg"], "BKN", kanreg="iii"),
    "kanreg.tanpa": _account("Tono Kanreg", ["sbt-kanreg"], "BKN"),
    "kanreg.asing": _account("Asep Kanreg", ["sbt-kanreg"], "BKN", kanreg="XV"),
}


@contextlib.asynccontextmanager
async def oidc_running(folder, provider_host: str = "127.0.0.1"):  # noqa: ANN001, ANN201
    """identity, intake and status, with the identity service the relying party of a provider that knows
    the status service's callback as the client's redirect URI."""
    node_or_skip()
    provider = OidcProvider(folder / "provider", clients=[], accounts=ACCOUNTS, host=provider_host)
    system = SbtSystem(folder / "system", ["intake", "status", "identity"], extra_env={
        "SBT_OIDC_ISSUER": provider.issuer, "SBT_OIDC_CLIENT_ID": CLIENT_ID, "SBT_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "SBT_OIDC_SCOPES": "openid profile sbt", "SBT_OIDC_ROLE_MAP": json.dumps(ROLE_MAP),
        "SBT_OIDC_AGENCY_CLAIM": "instansi", "SBT_OIDC_BKN_OFFICE_CLAIM": "kanreg",
        "SBT_OIDC_DISPLAY_NAME": PROVIDER_NAME,
        "SBT_TOKEN_FAILURE_BURST": "1000", "SBT_TOKEN_FAILURE_RATE_PER_MINUTE": "1000",
    })
    callback = f"{system['status'].url}/dashboard/login/oidc/callback"
    for service in system.services.values():
        service.env["SBT_OIDC_REDIRECT_URI"] = callback
    provider.clients = [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [callback]}]
    provider.start()
    try:
        await system.start()
        system.provider = provider  # type: ignore[attr-defined]
        yield system
    finally:
        await system.stop()
        provider.stop()


@pytest.fixture
async def oidc_system(tmp_path):
    async with oidc_running(tmp_path) as system:
        yield system


def tab() -> httpx.AsyncClient:
    """A browser tab: keeps the cookies of both sites, follows no redirect by itself."""
    return httpx.AsyncClient(timeout=20)


async def press_the_button(client: httpx.AsyncClient, system, next_path: str = "/dashboard") -> str:
    """Opens the sign-in page, presses the provider's button; answers where the browser is sent."""
    page = await client.get(f"{system['status'].url}/dashboard/login")
    assert page.status_code == 200 and f"Masuk dengan {PROVIDER_NAME}" in page.text  # Indonesian by default
    started = await client.post(f"{system['status'].url}/dashboard/login/oidc",
                                data={"csrf_token": csrf_of(page), "next": next_path})
    assert started.status_code == 303, started.text
    assert started.headers["location"].startswith(system.provider.issuer + "/auth?")
    return started.headers["location"]


async def sign_in_at_provider(client: httpx.AsyncClient, authorization_url: str, login: str) -> str:
    """Follows the provider to its sign-in form, signs in as ``login``; answers the URL it sends the
    browser back to (the dashboard's callback, with code and state)."""
    response = await client.get(authorization_url)
    while response.status_code in (302, 303):
        location = urljoin(str(response.url), response.headers["location"])
        if "/dashboard/login/oidc/callback" in location:  # signed in there already (single sign-on)
            return location
        response = await client.get(location)
    assert response.status_code == 200 and 'name="password"' in response.text, response.text
    action = response.text.split('action="', 1)[1].split('"', 1)[0]
    response = await client.post(urljoin(str(response.url), action), data={"login": login, "password": PASSWORD})
    while response.status_code in (302, 303):
        location = urljoin(str(response.url), response.headers["location"])
        if "/dashboard/login/oidc/callback" in location:
            return location
        response = await client.get(location)
    raise AssertionError(f"the provider did not send the browser back: {response.status_code} {response.text[:300]}")


async def sign_in(client: httpx.AsyncClient, system, login: str, next_path: str = "/dashboard") -> httpx.Response:
    callback = await sign_in_at_provider(client, await press_the_button(client, system, next_path), login)
    return await client.get(callback)


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def _landing(page: httpx.Response) -> str:
    """Where the signed-in page moves on to (by itself, so the browser sends the SameSite=Strict cookie)."""
    assert page.status_code == 200, page.text
    return page.text.split('http-equiv="refresh" content="0;url=', 1)[1].split('"', 1)[0]


async def test_a_ppk_signs_in_at_the_provider_and_sees_only_its_agency(oidc_system):
    system = oidc_system
    status = system["status"].url
    nip = random_nip()
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        filed = await client.post("/v1/reports", json=report_body(nip, agency_code=OWN))
    assert filed.status_code == 201, filed.text
    case_id = filed.json()["case_id"]

    async def in_status():
        async with system.client("status", system.token("BKN", "observer")) as client:
            return (await client.get(f"/v1/cases/{case_id}/timeline")).status_code == 200

    await eventually(in_status, 30, "the case in the status")
    await _publish_recommendation(system, case_id, nip)

    async def awaiting_ppk():
        async with system.client("status", system.token(OWN, "ppk", ppk_agency=OWN)) as client:
            return (await client.get(f"/v1/agencies/{OWN}/cases")).json().get("total") == 1

    await eventually(awaiting_ppk, 30, "the case awaiting its PPK")

    async with tab() as own, tab() as other:
        authorization = await press_the_button(own, system)
        asked = _query(authorization)
        # Code flow with PKCE (S256), a state and a nonce, for the registered callback.
        assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
        assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
        assert asked["state"] and asked["nonce"] and asked["redirect_uri"].startswith(status)
        transaction = own.cookies.get("sbt_oidc")
        assert transaction and asked["state"] not in transaction  # sealed, not readable

        callback = await sign_in_at_provider(own, authorization, "ppk.jabar")
        assert _query(callback)["state"] == asked["state"] and _query(callback)["iss"] == system.provider.issuer
        signed = await own.get(callback)
        assert _landing(signed) == "/dashboard/obligations"  # a PPK's home
        cookies = signed.headers.get_list("set-cookie")
        session = next(cookie for cookie in cookies if cookie.startswith("sbt_session="))
        assert "HttpOnly" in session and "samesite=strict" in session.lower() and "Path=/dashboard" in session
        max_age = int(session.lower().split("max-age=", 1)[1].split(";", 1)[0])
        assert 8 * 3600 - 60 <= max_age <= 8 * 3600  # expires, as a password sign-in's
        assert any(cookie.startswith("sbt_oidc=") and "max-age=0" in cookie.lower() for cookie in cookies)

        claims = _claims(own.cookies.get("sbt_session", path="/dashboard"))
        assert claims["roles"] == ["ppk"] and claims["agency"] == OWN and claims["ppk_agency"] == OWN
        assert claims["sbt_kind"] == "person" and claims["sub"] == "oidc:ppk.jabar" and claims["iss"] == "sbt"

        mine = await own.get(status + "/dashboard/obligations")
        assert mine.status_code == 200 and case_id in mine.text and nip in mine.text and "Dedi Mulyadi" in mine.text
        assert (await own.get(f"{status}/dashboard/cases/{case_id}")).status_code == 200
        assert (await own.get(status + "/dashboard")).status_code == 403  # the national figures are not a PPK's

        # A PPK of another agency, from the same provider: nothing of that case.
        assert _landing(await sign_in(other, system, "ppk.bandung")) == "/dashboard/obligations"
        theirs = await other.get(status + "/dashboard/obligations")
        assert theirs.status_code == 200 and case_id not in theirs.text and nip not in theirs.text
        assert (await other.get(f"{status}/dashboard/obligations?agency={OWN}")).status_code == 403
        assert (await other.get(f"{status}/dashboard/cases/{case_id}")).status_code == 404

    # An observer lands on the national overview, and is sent back to where they were going.
    async with tab() as observer:
        assert _landing(await sign_in(observer, system, "pengamat.bkn")) == "/dashboard"
        assert (await observer.get(status + "/dashboard")).status_code == 200
        went = await sign_in(observer, system, "pengamat.bkn", next_path=f"/dashboard/cases/{case_id}")
        assert _landing(went) == f"/dashboard/cases/{case_id}"

    audited = await system.scalar("identity", "select count(*) from user_audit where action = 'oidc sign-in'")
    assert audited == 4


async def test_tampered_state_replayed_code_and_missing_transaction_are_refused(oidc_system):
    system = oidc_system
    async with tab() as client:
        callback = await sign_in_at_provider(client, await press_the_button(client, system), "ppk.jabar")
        answer = _query(callback)
        base = callback.split("?", 1)[0]
        transaction = client.cookies.get("sbt_oidc")

        # Another state than the one the sign-in was started with: refused before the code is used.
        tampered = await client.get(base + "?" + urlencode({**answer, "state": answer["state"][:-2] + "xx"}))
        assert tampered.status_code == 401 and f"Masuk dengan {PROVIDER_NAME} tidak berhasil" in tampered.text
        assert "sbt_session" not in client.cookies
        # The transaction is spent with that try (the browser drops it); put back, the real answer works.
        client.cookies.set("sbt_oidc", transaction, domain="127.0.0.1", path="/dashboard/login/oidc")
        assert _landing(await client.get(callback)) == "/dashboard/obligations"
        token = client.cookies.get("sbt_session", path="/dashboard")

        # The same code again, with the same transaction: the provider has used it, so it is refused.
        client.cookies.clear()
        client.cookies.set("sbt_oidc", transaction, domain="127.0.0.1", path="/dashboard/login/oidc")
        replayed = await client.get(callback)
        assert replayed.status_code == 401 and "sbt_session" not in client.cookies
        # ... and without the transaction (another browser, or one whose sign-in ran out): refused too.
        client.cookies.clear()
        assert (await client.get(callback)).status_code == 400 and "sbt_session" not in client.cookies

    # At the identity service: a forged transaction, and the replayed code, each answered with a problem.
    async with system.client("identity") as identity:
        forged = await identity.post("/v1/sessions/oidc", json={"code": answer["code"], "state": answer["state"],
                                                               "transaction": base64.urlsafe_b64encode(os.urandom(80)).decode()})
        assert forged.status_code == 401 and "transaction" in forged.json()["detail"]
        again = await identity.post("/v1/sessions/oidc", json={"code": answer["code"], "state": answer["state"],
                                                              "transaction": transaction})
        assert again.status_code == 401 and "refused the code" in again.json()["detail"]
        missing = await identity.post("/v1/sessions/oidc", json={"state": answer["state"], "transaction": transaction})
        assert missing.status_code == 422 and "code" in missing.text
    assert token  # the one real sign-in held


async def test_claims_without_a_role_and_a_blocker_without_second_factor_are_refused(oidc_system):
    system = oidc_system
    async with tab() as client:
        refused = await sign_in(client, system, "tamu")
        assert refused.status_code == 403 and "sbt_session" not in client.cookies
        assert f"Akun Anda di {PROVIDER_NAME} tidak memiliki peran di SBT" in refused.text
        # The same in English, by choice.
        await client.get(f"{system['status'].url}/dashboard/login?lang=en")
        english = await sign_in_english(client, system, "tamu")
        assert english.status_code == 403 and f"Your account at {PROVIDER_NAME} has no role in SBT" in english.text

    async with tab() as client:
        blocked = await sign_in(client, system, "blokir.bkn")
        assert blocked.status_code == 403 and "memerlukan faktor kedua" in blocked.text
        assert "sbt_session" not in client.cookies
    async with tab() as client:  # with one (amr names otp), the blocker is let in
        assert _landing(await sign_in(client, system, "blokir.mfa")) == "/dashboard"
        assert _claims(client.cookies.get("sbt_session", path="/dashboard"))["roles"] == ["blocker"]

    turned_away = await system.scalar("identity", "select count(*) from user_audit where action = 'oidc refused'")
    assert turned_away == 3


async def test_a_regional_office_head_gets_the_office_from_a_claim_or_is_refused(oidc_system):
    system = oidc_system
    async with tab() as client:
        assert _landing(await sign_in(client, system, "kanreg.bandung")) == "/dashboard"
        claims = _claims(client.cookies.get("sbt_session", path="/dashboard"))
        assert claims["roles"] == ["bkn_regional"] and claims["bkn_office"] == "III"
    for login in ("kanreg.tanpa", "kanreg.asing"):
        async with tab() as client:
            refused = await sign_in(client, system, login)
            assert refused.status_code == 403 and "sbt_session" not in client.cookies, login
            assert f"Akun Anda di {PROVIDER_NAME} tidak menyebut kantor regional BKN yang dikenal" in refused.text
    reasons = await system.scalar("identity", "select count(*) from user_audit where action = 'oidc refused' "
                                              "and detail like 'no regional office:%'")
    assert reasons == 2


async def sign_in_english(client: httpx.AsyncClient, system, login: str) -> httpx.Response:
    page = await client.get(f"{system['status'].url}/dashboard/login")
    assert f"Sign in with {PROVIDER_NAME}" in page.text and '<html lang="en">' in page.text
    started = await client.post(f"{system['status'].url}/dashboard/login/oidc",
                                data={"csrf_token": csrf_of(page), "next": "/dashboard"})
    return await client.get(await sign_in_at_provider(client, started.headers["location"], login))


async def test_pkce_is_required_and_used(oidc_system):
    system = oidc_system
    issuer = system.provider.issuer
    async with tab() as client:
        authorization = await press_the_button(client, system)
        # The provider gives no code to a request without a code challenge ...
        without = {k: v for k, v in _query(authorization).items() if not k.startswith("code_challenge")}
        refused = await client.get(f"{issuer}/auth?{urlencode(without)}")
        assert refused.status_code in (302, 303, 400)
        said = refused.headers.get("location", "") + refused.text
        assert "error=invalid_request" in said and "requires+PKCE" in said, said
        # ... and exchanges the code it gave only with the verifier that SBT keeps sealed.
        callback = await sign_in_at_provider(client, authorization, "ppk.jabar")
        code = _query(callback)["code"]
        exchange = await client.post(f"{issuer}/token", auth=(CLIENT_ID, CLIENT_SECRET), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": _query(authorization)["redirect_uri"]})
        assert exchange.status_code == 400 and exchange.json()["error"] in ("invalid_grant", "invalid_request")


async def test_in_a_real_browser_with_the_provider_on_another_site(tmp_path):
    """Chromium, with the provider at localhost and the dashboard at 127.0.0.1 (two sites): the session
    cookie is SameSite=Strict, which a browser does not send on a navigation another site started, so this
    is where a redirect straight from the callback to the dashboard would send the person back to the form."""
    playwright_api = browser_or_skip()
    async with oidc_running(tmp_path, provider_host="localhost") as system:
        status = system["status"].url
        async with playwright_api.async_playwright() as driver:
            browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = await browser.new_page(viewport={"width": 1100, "height": 800})
                await page.goto(f"{status}/dashboard/login")
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "sign-in-with-provider.png"), full_page=True)
                await page.click("#oidc-sign-in")
                await page.wait_for_url(f"{system.provider.issuer}/interaction/**")
                await page.fill('input[name="login"]', "ppk.jabar")
                await page.fill('input[name="password"]', PASSWORD)
                await page.click('button[type="submit"]')
                await page.wait_for_url(f"{status}/dashboard/obligations", timeout=20_000)
                assert "Dedi Mulyadi" in await page.content()
                session = [c for c in await page.context.cookies() if c["name"] == "sbt_session"]
                assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict"
                assert not [c for c in await page.context.cookies() if c["name"] == "sbt_oidc"]
            finally:
                await browser.close()
