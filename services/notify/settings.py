"""The notify service's settings (webhooks and the agencies' feed logins): the shared parts it uses and its
own knobs (``SBT_`` variables)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from shared.settings import BusSettings, SealSettings, ServiceSettings


class NotifySettings(ServiceSettings, BusSettings, SealSettings):
    # The retry schedule: seconds before each attempt after a failure, the integrators' usual one (at once,
    # 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), comma-separated so tests run it in seconds; each wait gets up
    # to webhook_jitter of itself added, so failed receivers are not all retried in the same second.
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
    # How many deliveries one notify process sends at once.
    webhook_concurrency: int = Field(default=16, ge=1, le=256)
    # The authorization file of the NATS server this deployment manages, which `sbt subscriber` rewrites with
    # the agencies' feed logins, and the server's pid file, to which it then sends SIGHUP (a configuration
    # reload: no restart). Unset: the embedded server's, under SBT_DATA_DIR/nats.
    nats_auth_file: Path | None = None
    nats_pid_file: Path | None = None

    @model_validator(mode="after")
    def _webhook_schedule_is_readable(self) -> Self:
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


@lru_cache
def get_settings() -> NotifySettings:
    return NotifySettings()
