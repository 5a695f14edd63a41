"""People's accounts for end-to-end tests: made with ``sbt user add`` (the password on standard input), as
an operator makes them, and signed in through the dashboard's form, as a browser does."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from tests.harness.system import ROOT

PASSWORD = "kata sandi yang panjang"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def user_cli(system, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    """``sbt user ...`` against the identity database of ``system``; ``password`` piped to its stdin."""
    return subprocess.run([sys.executable, "-m", "services.cli", "user", *args], env=system["identity"].env,
                          cwd=ROOT, input=password if password is None else password + "\n", capture_output=True,
                          text=True, timeout=120)


def add_user(system, username: str, *roles: str, agency: str = "BKN", ppk_agency: str | None = None,
             password: str = PASSWORD) -> str | None:
    """Adds the account; answers its TOTP secret when its roles require one."""
    args = ["add", "--username", username, "--agency", agency, *[a for role in roles for a in ("--role", role)]]
    if ppk_agency:
        args += ["--ppk-agency", ppk_agency]
    done = user_cli(system, *args, password=password)
    assert done.returncode == 0, done.stderr
    assert "password:" not in done.stdout  # given on stdin, so none made and printed
    secret = re.search(r"secret=([A-Z2-7]+)", done.stdout)
    return secret.group(1) if secret else None


def browser(system) -> httpx.AsyncClient:
    """A client that keeps cookies and does not follow redirects, like a browser tab we can inspect."""
    return httpx.AsyncClient(base_url=system["status"].url, timeout=20)


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, f"no form token on the page: {page.text[:300]}"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD,
                  totp: str | None = None, next_path: str | None = None) -> httpx.Response:
    """Opens the sign-in form (for its token and cookie) and posts it; answers the post's response."""
    form_page = await client.get("/dashboard/login", params={"next": next_path} if next_path else None)
    assert form_page.status_code == 200, form_page.text
    fields = {"csrf_token": csrf_of(form_page), "next": next_path or "/dashboard", "username": username,
              "password": password}
    if totp is not None:
        fields["totp"] = totp
    return await client.post("/dashboard/login", data=fields)
