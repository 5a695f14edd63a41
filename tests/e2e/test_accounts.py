"""People's accounts end to end, on real identity and status processes and a real database: accounts made
with ``sbt user add`` (password on stdin) and over the admin API, signed in through the dashboard's form
(its form token, its cookie), refused alike whether the username is unknown, the password wrong or the
account disabled, locked after repeated failures, a TOTP code required of admins and blockers, forms
without their token refused, an expired session sent back to the form, and every role landing on a page
it may see: a PPK its own agency's obligations, and nothing of another agency's."""

from __future__ import annotations

import asyncio

import pyotp
import pytest

from shared.authz import PERMISSIONS
from tests.e2e.accounts import PASSWORD, add_user, browser, csrf_of, sign_in, user_cli
from tests.e2e.reports import random_nip, report_body
from tests.e2e.test_authorization_matrix import OTHER, OWN, _publish_recommendation
from tests.harness.ports import eventually

pytestmark = pytest.mark.e2e

REFUSED = "Nama pengguna atau kata sandi salah"  # the page speaks Indonesian by default


def _said(page, username: str) -> str:  # noqa: ANN001
    """What a sign-in page says, but for the username typed and the browser's own form token."""
    return page.text.replace(username, "").replace(csrf_of(page), "")


async def test_sign_in_refusals_lockout_totp_and_form_tokens(make_system):
    system = await make_system("identity", "status", extra_env={
        "SBT_LOGIN_MAX_FAILURES": "3", "SBT_TOKEN_FAILURE_BURST": "1000", "SBT_TOKEN_FAILURE_RATE_PER_MINUTE": "1000"})
    assert add_user(system, "Siti.Rahma", "observer") is None  # no second factor for an observer

    async with browser(system) as tab:
        # Without a session the dashboard sends the person to the form.
        first = await tab.get("/dashboard")
        assert first.status_code == 303 and first.headers["location"].startswith("/dashboard/login")
        signed = await sign_in(tab, "siti.rahma")  # any case
        assert signed.status_code == 303 and signed.headers["location"] == "/dashboard", signed.text
        cookie = signed.headers["set-cookie"]
        assert "sbt_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        page = await tab.get("/dashboard")
        assert page.status_code == 200 and "siti.rahma" in page.text

        # Signing out is a form too: without its token it is refused, with it the session ends.
        assert (await tab.post("/dashboard/logout", data={})).status_code == 403
        out = await tab.post("/dashboard/logout", data={"csrf_token": csrf_of(page)})
        assert out.status_code == 303
        tab.cookies.delete("sbt_session", path="/dashboard")
        assert (await tab.get("/dashboard")).status_code == 303

    # Unknown user, wrong password: the same answer, at the form and at the identity service.
    async with browser(system) as tab:
        wrong = await sign_in(tab, "siti.rahma", "not the password at all")
        unknown = await sign_in(tab, "nobody.here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401 and REFUSED in wrong.text
    assert _said(wrong, "siti.rahma") == _said(unknown, "nobody.here")
    async with system.client("identity") as identity:
        answers = [await identity.post("/v1/sessions", json={"username": name, "password": "not the password at all"})
                   for name in ("siti.rahma", "nobody.here")]
    assert answers[0].status_code == answers[1].status_code == 401
    assert answers[0].json() == answers[1].json()

    # Lockout: 3 failures in a row (two above, one here) lock the account; the right password is then
    # refused alike, until an operator resets the password.
    async with browser(system) as tab:
        await sign_in(tab, "siti.rahma", "still not the password")
        locked = await sign_in(tab, "siti.rahma")
        assert locked.status_code == 401 and REFUSED in locked.text
        assert _said(locked, "siti.rahma") == _said(unknown, "nobody.here")
        reset = user_cli(system, "reset-password", "siti.rahma", password=PASSWORD + "!")
        assert reset.returncode == 0, reset.stderr
        assert (await sign_in(tab, "siti.rahma", PASSWORD + "!")).status_code == 303
    assert await system.scalar("identity", "select count(*) from user_audit where username = 'siti.rahma'") == 2

    # Admins and blockers need a TOTP code: asked for only after the right password.
    for username, role in (("admin.bkn", "admin"), ("blokir.bkn", "blocker")):
        secret = add_user(system, username, role)
        assert secret, f"{role}: no TOTP enrolment printed"
        async with browser(system) as tab:
            asked = await sign_in(tab, username)
            assert asked.status_code == 401 and 'name="totp"' in asked.text and REFUSED not in asked.text
            bad = await sign_in(tab, username, totp="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
            assert bad.status_code == 401 and "Kode salah" in bad.text
            good = await sign_in(tab, username, totp=pyotp.TOTP(secret).now())
            assert good.status_code == 303, good.text
            assert (await tab.get(good.headers["location"])).status_code == 200

    # The sign-in form without its token, with a wrong one, or with another browser's: refused.
    async with browser(system) as tab, browser(system) as other_tab:
        form_page = await tab.get("/dashboard/login")
        other_token = csrf_of(await other_tab.get("/dashboard/login"))
        fields = {"username": "siti.rahma", "password": PASSWORD + "!"}
        for token in (None, "forged", other_token):
            refused = await tab.post("/dashboard/login", data={**fields, **({"csrf_token": token} if token else {})})
            assert refused.status_code == 403 and "csrf_token" in refused.text, token
        assert (await tab.post("/dashboard/login", data={**fields, "csrf_token": csrf_of(form_page)})).status_code == 303


async def test_the_admin_api_for_accounts(make_system):
    system = await make_system("identity")
    secret = add_user(system, "admin.bkn", "admin")
    async with system.client("identity") as identity:
        signed = await identity.post("/v1/sessions", json={"username": "admin.bkn", "password": PASSWORD,
                                                          "totp": pyotp.TOTP(secret).now()})
    assert signed.status_code == 200, signed.text
    assert signed.headers["cache-control"] == "no-store"
    session = signed.json()
    assert session["roles"] == ["admin"] and session["expires_in"] <= 8 * 3600

    async with system.client("identity", session["access_token"]) as admin:
        missing = await admin.post("/v1/users", json={"username": "ppk.jabar", "agency_code": OWN, "roles": ["ppk"]})
        assert missing.status_code == 422 and "ppk_agency" in missing.text
        weak = await admin.post("/v1/users", json={"username": "x.y.z", "agency_code": OWN, "roles": ["observer"],
                                                   "password": "short"})
        assert weak.status_code == 422 and "password" in weak.text
        made = await admin.post("/v1/users", json={"username": "PPK.Jabar", "agency_code": OWN, "roles": ["ppk"],
                                                   "ppk_agency": OWN, "display_name": "PPK Jawa Barat"})
        assert made.status_code == 201, made.text
        created = made.json()
        assert created["username"] == "ppk.jabar" and created["password"] and created["created_by"] == "user:admin.bkn"
        again = await admin.post("/v1/users", json={"username": "ppk.JABAR", "agency_code": OWN, "roles": ["ppk"],
                                                    "ppk_agency": OWN})
        assert again.status_code == 409 and "username" in again.text
        listed = (await admin.get("/v1/users")).json()["users"]
        assert [u["username"] for u in listed] == ["admin.bkn", "ppk.jabar"]
        assert all("password" not in u and "totp_secret" not in u for u in listed)

    async with system.client("identity") as identity:
        ppk = await identity.post("/v1/sessions", json={"username": "ppk.jabar", "password": created["password"]})
    assert ppk.status_code == 200
    async with system.client("identity", ppk.json()["access_token"]) as not_admin:
        assert (await not_admin.get("/v1/users")).status_code == 403

    async with system.client("identity", session["access_token"]) as admin:
        assert (await admin.post("/v1/users/ppk.jabar/disable")).status_code == 200
        assert (await admin.post("/v1/users/ppk.jabar/disable")).status_code == 409
        assert (await admin.post("/v1/users/nobody/disable")).status_code == 404
        assert (await admin.post("/v1/users/ppk.jabar/password", json={})).status_code == 409
    async with system.client("identity") as identity:
        disabled = await identity.post("/v1/sessions", json={"username": "ppk.jabar", "password": created["password"]})
        unknown = await identity.post("/v1/sessions", json={"username": "nobody", "password": created["password"]})
    assert disabled.status_code == 401 and disabled.json() == unknown.json()
    for action in ("created", "disabled"):
        assert await system.scalar("identity", "select count(*) from user_audit where username = 'ppk.jabar' "
                                               "and action = :action and actor = 'user:admin.bkn'", action=action) == 1


async def test_every_role_lands_on_a_page_it_may_see_and_a_session_expires(make_system):
    system = await make_system("intake", "status", "identity", extra_env={"SBT_USER_SESSION_TTL_SECONDS": "10"})
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
            answer = await client.get(f"/v1/agencies/{OWN}/cases")
            return answer.status_code == 200 and answer.json()["total"] == 1

    await eventually(awaiting_ppk, 30, "the case awaiting its PPK in the status")

    add_user(system, "ppk.jabar", "ppk", agency=OWN, ppk_agency=OWN)
    add_user(system, "ppk.bandung", "ppk", agency=OTHER, ppk_agency=OTHER)
    async with browser(system) as own, browser(system) as other:
        signed = await sign_in(own, "ppk.jabar")
        assert signed.status_code == 303 and signed.headers["location"] == "/dashboard/obligations"
        mine = await own.get("/dashboard/obligations")
        assert mine.status_code == 200 and case_id in mine.text and nip in mine.text
        assert (await sign_in(other, "ppk.bandung")).headers["location"] == "/dashboard/obligations"
        theirs = await other.get("/dashboard/obligations")
        assert theirs.status_code == 200 and case_id not in theirs.text and nip not in theirs.text
        assert (await other.get(f"/dashboard/obligations?agency={OWN}")).status_code == 403
        assert (await other.get(f"/dashboard/cases/{case_id}")).status_code == 404
        assert (await own.get(f"/dashboard/cases/{case_id}")).status_code == 200
        assert (await own.get("/dashboard")).status_code == 403  # the national figures are not a PPK's

        # The session ends with its token: the dashboard sends the person back to the form, saying so.
        await asyncio.sleep(11)
        own.cookies.set("sbt_session", signed.cookies["sbt_session"], path="/dashboard")
        ended = await own.get("/dashboard/obligations")
        assert ended.status_code == 303 and "expired=1" in ended.headers["location"]
        form = await own.get(ended.headers["location"])
        assert form.status_code == 200 and "Sesi Anda telah berakhir" in form.text

    # Every role a person holds lands on a page it may see.
    homes = {}
    for role in ("verifier", "examiner", "blocker", "observer", "admin", "reporter"):
        secret = add_user(system, f"orang.{role}", role)
        async with browser(system) as tab:
            signed = await sign_in(tab, f"orang.{role}", totp=pyotp.TOTP(secret).now() if secret else None)
            assert signed.status_code == 303, (role, signed.text[:300])
            homes[role] = signed.headers["location"]
            assert (await tab.get(homes[role])).status_code == 200, role
    assert homes == {"verifier": "/dashboard", "examiner": "/dashboard", "blocker": "/dashboard",
                     "observer": "/dashboard", "admin": "/dashboard", "reporter": "/dashboard/nip"}
    assert "reporter" not in PERMISSIONS["stats:read"]
