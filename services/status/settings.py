"""The status service's settings (its read API, verifiable ledger and dashboard): the shared parts it uses
and its own knobs (``SBT_`` variables)."""

from __future__ import annotations

from functools import lru_cache
from typing import Self

from pydantic import Field, model_validator

from shared.settings import (
    LEDGER_GAP_MIN_REDELIVERIES,
    LEDGER_GAP_PER_REDELIVERY,
    BusSettings,
    OidcSettings,
    ServiceSettings,
    SignInLimitSettings,
)


class StatusSettings(ServiceSettings, BusSettings, SignInLimitSettings, OidcSettings):
    # The public national figures withhold any non-zero count below this many cases (services/status/
    # public_figures.py), so that no one is identified by a small cell.
    public_figures_min_cell: int = Field(default=5, ge=2, le=1000)

    # The verifiable ledger (shared/ledger): the log's id, the Ed25519 key that signs its checkpoints (PEM;
    # unset outside production means a key made under SBT_DATA_DIR), how often a checkpoint is published when
    # the tree has grown (0 turns it off), and the witnesses whose co-signatures are accepted (key id ->
    # public PEM).
    ledger_log_id: str = "sbt-status"
    ledger_private_key: str | None = None
    ledger_key_id: str = "status-dev"
    ledger_checkpoint_seconds: float = Field(default=60.0, ge=0)
    ledger_witness_keys: dict[str, str] = Field(default_factory=dict)
    # An event that arrives before its producer's previous one waits this long for it, then is dead-lettered.
    # Unset: LEDGER_GAP_PER_REDELIVERY times redelivery_seconds (60 s by default); set, it must leave the
    # predecessor time to be redelivered (at least LEDGER_GAP_MIN_REDELIVERIES times redelivery_seconds).
    ledger_gap_seconds: float | None = Field(default=None, gt=0)
    # How often the in-memory read index looks for leaves another replica appended (its own are picked up at
    # once); 0 turns the index off and every status read goes to the database.
    status_index_poll_seconds: float = Field(default=0.025, ge=0)
    # How many civil servants' case summaries the index keeps in memory (the most recently read; about 1.2 KB
    # each, so 60 MB at the default); the others' are loaded when read.
    status_index_kept: int = Field(default=50_000, ge=1)

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

    @model_validator(mode="after")
    def _recovery_timings_agree(self) -> Self:
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

    @model_validator(mode="after")
    def _no_development_ledger_key_in_production(self) -> Self:
        if self.env == "production" and not self.ledger_private_key:
            raise ValueError("SBT_LEDGER_PRIVATE_KEY must be set in production (no development ledger key)")
        return self


@lru_cache
def get_settings() -> StatusSettings:
    return StatusSettings()
