"""The identity service's settings (clients, tokens, people's sessions, OpenID sign-in): the shared parts it
uses and its own knobs (``SBT_`` variables). It is not on the bus, so it has no NATS settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import OidcSettings, ServiceSettings, SignInLimitSettings


class IdentitySettings(ServiceSettings, SignInLimitSettings, OidcSettings):
    # Tokens the identity service issues to agency clients (POST /oauth/token): short-lived, because a
    # revoked client keeps using a token it already holds until that token expires.
    client_token_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    # People's sessions (POST /v1/sessions, the dashboard's sign-in): a working day.
    user_session_ttl_seconds: int = Field(default=8 * 3600, ge=5, le=86400)
    # A person's account is locked for a while after this many failed sign-ins in a row (the per-IP budget
    # applies as well, so guessing many accounts from one address is slowed down too).
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)


@lru_cache
def get_settings() -> IdentitySettings:
    return IdentitySettings()
