"""The identity service as the relying party of an agency's own OpenID Connect provider (authlib).

Two steps, both here, so that one place holds the client secret and decides whom to let in:

1. ``start``: the provider's authorization URL (code flow, PKCE S256, a fresh ``state`` and ``nonce``)
   and a *transaction*: those values and the redirect URI sealed (AES-GCM) for the front end to keep in
   the browser until the provider sends the person back. Nothing is stored server-side, so any replica
   can finish what another started.
2. ``finish``: the transaction opened (not expired, ``state`` equal), the code exchanged at the token
   endpoint with the PKCE verifier, and the ID token validated: signature by a key of the provider's JWKS
   (from discovery), issuer, audience, expiry, nonce. Only then are its claims mapped to an SBT person
   (oidc_claims.py). A code is good once: the provider refuses a replay.
"""

from __future__ import annotations

import base64
import hmac
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from authlib.deprecate import AuthlibDeprecationWarning
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.errors import JoseError

from services.identity import oidc_claims
from services.identity.oidc_claims import ClaimRules, Person, Refused
from shared.auth import signing_key
from services.identity.settings import IdentitySettings

# authlib's HTTP client prefers httpx2 and warns when it runs on httpx, the client this project pins and
# uses everywhere else; httpx is still supported, so the warning says nothing to act on here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, OAuthError

# Signature algorithms an ID token may use: asymmetric only (never "none", never one keyed by the secret).
SAFE_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_AAD = b"sbt oidc transaction v1"
LEEWAY_SECONDS = 60


class Unavailable(Exception):
    """The provider cannot be reached, or answers what no correct provider would: try again later."""


@dataclass(frozen=True)
class Started:
    authorization_url: str
    transaction: str
    expires_in: int


class RelyingParty:
    def __init__(self, settings: IdentitySettings) -> None:
        if not settings.oidc_enabled:
            raise ValueError("SBT_OIDC_ISSUER and SBT_OIDC_CLIENT_ID must both be set")
        self.settings = settings
        self.issuer = settings.oidc_issuer or ""
        self.rules = ClaimRules.from_settings(settings)
        self.redirect_uri = settings.oidc_callback_url
        client_kwargs: dict[str, Any] = {
            "scope": settings.oidc_scopes, "code_challenge_method": "S256", "timeout": 10,
            "token_endpoint_auth_method": "client_secret_basic" if settings.oidc_client_secret else "none",
        }
        self.client = OAuth().register(
            "agency", client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
            server_metadata_url=self.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs=client_kwargs)
        # Derived from the token-signing key: every replica has it, and nothing else must be configured.
        _kid, private_pem = signing_key(settings)
        self._seal = AESGCM(HKDF(hashes.SHA256(), 32, salt=None, info=_AAD).derive(private_pem.encode()))

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once), checked: its issuer must be the one
        configured (OpenID Connect Discovery §4.3) and it must take PKCE with S256."""
        try:
            metadata = await self.client.load_server_metadata()
        except (httpx.HTTPError, ValueError) as error:
            self.client.server_metadata.pop("_loaded_at", None)
            raise Unavailable(f"the provider's discovery document could not be read: {error}") from None
        if metadata.get("issuer") != self.issuer:
            self.client.server_metadata.pop("_loaded_at", None)
            raise Unavailable(f"the provider calls itself {metadata.get('issuer')!r}, not SBT_OIDC_ISSUER")
        challenge_methods = metadata.get("code_challenge_methods_supported")
        if challenge_methods is not None and "S256" not in challenge_methods:
            raise Unavailable("the provider does not take PKCE with S256")
        advertised = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = [alg for alg in advertised if alg in SAFE_ALGORITHMS]
        return metadata

    async def start(self) -> Started:
        await self.metadata()
        made = await self.client.create_authorization_url(self.redirect_uri)
        ttl = self.settings.oidc_transaction_seconds
        sealed = self._seal_transaction({"state": made["state"], "nonce": made["nonce"],
                                         "code_verifier": made["code_verifier"], "redirect_uri": self.redirect_uri,
                                         "exp": int(time.time()) + ttl})
        return Started(authorization_url=made["url"], transaction=sealed, expires_in=ttl)

    async def finish(self, *, code: str, state: str, transaction: str, iss: str | None) -> Person:
        """The person the provider signed in, or Refused (a bad transaction, state, code or ID token, or
        claims that map to no role)."""
        opened = self._open_transaction(transaction)
        if not hmac.compare_digest(state.encode(), str(opened["state"]).encode()):
            raise Refused("sign-in refused", "state: not the one this sign-in was started with")
        if iss is not None and iss != self.issuer:  # RFC 9207: the answer comes from another provider
            raise Refused("sign-in refused", "iss: the answer is not from the configured provider")
        await self.metadata()
        try:
            token = await self.client.fetch_access_token(redirect_uri=opened["redirect_uri"], code=code,
                                                         code_verifier=opened["code_verifier"])
        except OAuthError as error:
            raise Refused("sign-in refused", f"the provider refused the code ({error.error}): it was used "
                                             "already, has expired, or was not issued for this sign-in") from None
        except httpx.HTTPError as error:
            raise Unavailable(f"the provider's token endpoint could not be reached: {error}") from None
        if "id_token" not in token:
            raise Refused("sign-in refused", "the provider answered no ID token (is the scope openid asked?)")
        claims_options = {"iss": {"essential": True, "value": self.issuer},
                          "aud": {"essential": True, "value": self.settings.oidc_client_id},
                          "exp": {"essential": True}}
        try:
            claims = await self.client.parse_id_token(token, nonce=opened["nonce"], claims_options=claims_options,
                                                      leeway=LEEWAY_SECONDS)
        except JoseError as error:
            raise Refused("sign-in refused", f"the ID token is not valid: {error.error}"
                                             f"{': ' + error.description if error.description else ''}") from None
        except httpx.HTTPError as error:
            raise Unavailable(f"the provider's key set could not be read: {error}") from None
        return oidc_claims.person(dict(claims), self.rules)

    def _seal_transaction(self, values: dict) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._seal.encrypt(nonce, orjson.dumps(values), _AAD)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def _open_transaction(self, transaction: str) -> dict:
        try:
            raw = base64.urlsafe_b64decode(transaction + "=" * (-len(transaction) % 4))
            values = orjson.loads(self._seal.decrypt(raw[:12], raw[12:], _AAD))
        except (ValueError, InvalidTag, orjson.JSONDecodeError):
            raise Refused("sign-in refused", "transaction: not one this service started; start again") from None
        if not isinstance(values, dict) or int(values.get("exp", 0)) < time.time():
            raise Refused("sign-in refused", "transaction: the sign-in took too long; start again")
        return values


def relying_party(app_state) -> RelyingParty | None:  # noqa: ANN001
    """The service's one relying party (its discovery document and key set cached), None when off."""
    party = getattr(app_state, "oidc", None)
    if party is None and app_state.settings.oidc_enabled:
        party = app_state.oidc = RelyingParty(app_state.settings)
    return party
