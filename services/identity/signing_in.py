"""The identity service's units of work for signing in: a person's password sign-in (the failure count and
lock of the account change in the same transaction), the audit record of a sign-in through an agency's
OpenID provider, and an agency client's authentication at the token endpoint. Each begins its own
transaction (or read) here, so that the routes in sessions.py, oidc_api.py and oauth.py only parse, limit
and answer."""

from __future__ import annotations

from services.identity import clients, passwords, users
from services.identity.models import Client
from shared.service import Runtime


async def sign_in(*, runtime: Runtime, username: str, password: str, totp: str | None,
                  lockout: passwords.Lockout) -> users.Outcome:
    async with runtime.transaction() as session:
        return await users.sign_in(session, username=username, password=password, totp=totp,
                                   now=runtime.clock.now(), lockout=lockout)


async def audit_oidc(*, runtime: Runtime, action: str, subject: str, detail: str) -> None:
    """Who the provider signed in (or who was turned away, and why), for the administrators to see."""
    async with runtime.transaction() as session:
        users.audit(session, actor=runtime.settings.oidc_issuer or "oidc", action=action, username=subject[:64],
                    now=runtime.clock.now(), detail=detail[:200])


async def authenticate_client(*, runtime: Runtime, client_id: str, secret: str) -> Client | None:
    async with runtime.sessions() as session:
        return await clients.authenticate(session, client_id=client_id, secret=secret)
