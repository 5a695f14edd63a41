"""The identity service (port 8006): agency clients and the tokens they exchange their credentials for,
and people's accounts and the sessions they sign in to.

It publishes and consumes no events, so it runs without the bus; it signs tokens with the configured key
(SBT_JWT_PRIVATE_KEY / SBT_JWT_KEY_ID) and refuses to start when no service would trust that key.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.identity import api, keys, oauth, oidc_api, sessions, users_api
from services.identity.oidc_claims import ClaimRules
from services.identity.models import Base
from shared.service import ServiceSpec, create_service_app
from services.identity.settings import IdentitySettings, get_settings

SPEC = ServiceSpec(
    name="identity",
    title="SBT identity",
    description="Identity: agency clients exchange their id and secret for a short-lived bearer token "
                "(OAuth2 client credentials); people sign in with a username, password and, for some roles, "
                "a TOTP code, or at their agency's own OpenID provider; the trusted public keys are published "
                "as a JWK set.",
    metadata=Base.metadata,
    routers=[oauth.router, sessions.router, oidc_api.router, api.router, users_api.router],
    uses_bus=False,
)


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    keys.check_signing_key_is_trusted(settings)
    if settings.oidc_enabled:
        ClaimRules.from_settings(settings)  # a role map naming no SBT role stops the start, saying which
    return create_service_app(SPEC, settings)
