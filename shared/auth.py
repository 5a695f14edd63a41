"""Bearer tokens: Ed25519-signed JWTs carrying the client's agency and roles.

Keys are identified by ``kid`` so several public keys can be trusted at once and a key rotates without
downtime. In development, a key pair under ``SBT_DATA_DIR`` is made on first use so that ``sbt token``
and the services agree without any set-up.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.authz import ROLES, allowed
from shared.ids import new_id
from shared.problems import Problem
from shared.settings import AuthSettings
from shared.write_limit import counts_as_write

DEV_KEY_FILE = "dev-jwt-ed25519.pem"
# The claim that says a token is a person's session (signed in with a password), not a machine client's.
KIND_CLAIM, PERSON = "sbt_kind", "person"
_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Actor:
    client_id: str
    agency: str
    roles: frozenset[str]
    ppk_agency: str | None = None
    # A BKN regional office's code ("III"): the region whose agencies a bkn_regional token sees.
    bkn_office: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False)


def _dev_private_key_pem(settings: AuthSettings) -> str:
    path: Path = settings.data_dir / DEV_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:  # exclusive create: when several processes start at once, the first key wins
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
        except FileExistsError:
            pass
    return path.read_text()


def public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def signing_key(settings: AuthSettings) -> tuple[str, str]:
    """(kid, private PEM) used to mint tokens."""
    if settings.jwt_private_key:
        return settings.jwt_key_id, settings.jwt_private_key
    if settings.env == "production":
        raise RuntimeError("SBT_JWT_PRIVATE_KEY is not set")
    return "dev", _dev_private_key_pem(settings)


def trusted_keys(settings: AuthSettings) -> dict[str, str]:
    """kid -> public PEM of every key whose tokens are accepted."""
    if settings.jwt_public_keys:
        return dict(settings.jwt_public_keys)
    return {"dev": public_pem(_dev_private_key_pem(settings))}


def mint_token(
    settings: AuthSettings,
    *,
    agency: str,
    roles: list[str],
    client_id: str | None = None,
    ppk_agency: str | None = None,
    bkn_office: str | None = None,
    ttl_seconds: int | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    kid, private_pem = signing_key(settings)
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": client_id or f"{agency.lower()}-client",
        "agency": agency,
        "roles": sorted(roles),
        "iat": now,
        "exp": now + dt.timedelta(seconds=ttl_seconds or settings.jwt_ttl_seconds),
        "jti": new_id(),
    }
    if ppk_agency:
        claims["ppk_agency"] = ppk_agency
    if bkn_office:
        claims["bkn_office"] = bkn_office
    claims.update(extra_claims or {})
    return jwt.encode(claims, private_pem, algorithm="EdDSA", headers={"kid": kid})


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.keys: dict[str, Ed25519PublicKey] = {}
        for kid, pem in trusted_keys(settings).items():
            key = serialization.load_pem_public_key(pem.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError(f"token key {kid} is not an Ed25519 public key")
            self.keys[kid] = key
        self._cache: dict[str, tuple[Actor, float]] = {}

    def verify(self, token: str) -> Actor:
        """The token's actor. A token verified before is answered from a small cache until it expires:
        a personnel system asks thousands of times a second with the same token, and checking an Ed25519
        signature each time would cost more than answering."""
        cached = self._cache.get(token)
        if cached is not None and time.time() < cached[1]:
            return cached[0]
        actor = self._verify(token)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[token] = (actor, float(actor.claims["exp"]))
        return actor

    def _verify(self, token: str) -> Actor:
        try:
            kid = str(jwt.get_unverified_header(token).get("kid"))
        except jwt.PyJWTError:
            raise Problem(401, "invalid token", "the bearer token is not a JWT") from None
        key = self.keys.get(kid)
        if key is None:
            raise Problem(401, "invalid token", "the token's key id is not trusted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Problem(401, "invalid token", "the token has expired") from None
        except jwt.PyJWTError as error:
            raise Problem(401, "invalid token", f"the token was refused: {error}") from None
        roles = claims.get("roles")
        agency = claims.get("agency")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles) or not isinstance(agency, str):
            raise Problem(401, "invalid token", "the token lacks agency or roles")
        return Actor(
            client_id=str(claims["sub"]),
            agency=agency,
            roles=frozenset(roles),
            ppk_agency=claims.get("ppk_agency"),
            bkn_office=office if isinstance(office := claims.get("bkn_office"), str) else None,
            claims=claims,
        )



_bearer = HTTPBearer(auto_error=False)


def require(permission: str) -> Callable[..., Awaitable[Actor]]:
    """A dependency that authenticates the caller and checks ``permission``; 401 or 403 otherwise. A write
    (POST, PUT, PATCH, DELETE) also spends one unit of the client's write budget; 429 past it."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Actor:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(401, "authentication required", "send a bearer token in the Authorization header")
        verifier: TokenVerifier = request.app.state.token_verifier
        actor = verifier.verify(credentials.credentials)
        request.state.actor = actor
        if not allowed(permission, actor.roles):
            raise Problem(403, "forbidden", f"permission '{permission}' is not granted to roles {sorted(actor.roles)}")
        if counts_as_write(request.method, permission):
            await request.app.state.write_limiter.spend(actor)
        return actor

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the deny-by-default test
    return dependency


PUBLIC_ACTOR = Actor(client_id="public", agency="PUBLIC", roles=frozenset({"public"}))


def public(permission: str) -> Callable[..., Awaitable[Actor]]:
    """A dependency for an endpoint open to anyone without a token, rate-limited per client IP.

    The permission must be granted to the ``public`` role in the table, so that what is open stays
    visible in one place; a caller over its budget gets 429 with Retry-After.
    """
    if not allowed(permission, PUBLIC_ACTOR.roles):
        raise ValueError(f"permission '{permission}' is not granted to the public role")

    async def dependency(request: Request) -> Actor:
        from shared.ratelimit import RateLimiter

        limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
        if limiter is None:
            settings = request.app.state.settings
            limiter = request.app.state.rate_limiter = RateLimiter(
                rate_per_minute=settings.public_rate_per_minute, burst=settings.public_burst
            )
        request.state.actor = PUBLIC_ACTOR
        client = request.client.host if request.client else "unknown"
        decision = limiter.check(permission, client)
        if not decision.allowed:
            raise Problem(
                429,
                "too many requests",
                f"try again in {decision.retry_after} s",
                headers={"Retry-After": str(decision.retry_after)},
            )
        return PUBLIC_ACTOR

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the deny-by-default test
    return dependency
