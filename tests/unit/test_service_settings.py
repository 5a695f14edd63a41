"""Each service's settings are composed of the shared parts it uses and its own knobs: every one reads its
knobs from the same SBT_ variables as before the split, and none carries another service's knobs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.blocking.settings import BlockingSettings
from services.cli.settings import SystemSettings
from services.identity.settings import IdentitySettings
from services.intake.settings import IntakeSettings
from services.notify.settings import NotifySettings
from services.recommendation.settings import RecommendationSettings
from services.sanction.settings import SanctionSettings
from services.status.settings import StatusSettings
from shared.settings import BusSettings, SealSettings

# Per service: one of its own knobs, the SBT_ variable's value, and the value it should read.
OWN_KNOBS = [
    (IntakeSettings, "lapor_url", "https://lapor.example.go.id", "https://lapor.example.go.id"),
    (RecommendationSettings, "verification_target_days", "9", 9),
    (SanctionSettings, "followup_working_days", "3", 3),
    (BlockingSettings, "blocking_policy", "automatic", "automatic"),
    (StatusSettings, "ledger_log_id", "sbt-status-drill", "sbt-status-drill"),
    (IdentitySettings, "login_max_failures", "7", 7),
    (NotifySettings, "webhook_concurrency", "4", 4),
]


@pytest.mark.parametrize(("cls", "knob", "raw", "expected"), OWN_KNOBS)
def test_each_service_reads_its_knobs_from_the_same_variables(monkeypatch, cls, knob, raw, expected) -> None:  # noqa: ANN001
    monkeypatch.setenv(f"SBT_{knob.upper()}", raw)
    monkeypatch.setenv("SBT_DATA_DIR", "/srv/sbt")
    monkeypatch.setenv("SBT_JWT_AUDIENCE", "sbt-drill")
    settings = cls()
    assert getattr(settings, knob) == expected
    # The shared parts every service has come from the same variables too.
    assert str(settings.data_dir) == "/srv/sbt" and settings.jwt_audience == "sbt-drill"
    assert getattr(SystemSettings(), knob) == expected  # and the CLI, which spans every service, agrees


@pytest.mark.parametrize(("cls", "knob"), [
    (IntakeSettings, "blocking_policy"), (IntakeSettings, "ledger_gap_seconds"), (IntakeSettings, "webhook_jitter"),
    (BlockingSettings, "lapor_url"), (BlockingSettings, "followup_working_days"),
    (SanctionSettings, "escalation_threshold"), (RecommendationSettings, "master_key"),
    (StatusSettings, "webhook_retry_schedule"), (StatusSettings, "login_max_failures"),
    (IdentitySettings, "nats_url"), (IdentitySettings, "stream_name"), (IdentitySettings, "ledger_private_key"),
    (NotifySettings, "oidc_issuer"), (NotifySettings, "role_assignments"),
])
def test_no_service_carries_another_services_knobs(cls, knob) -> None:  # noqa: ANN001
    assert knob not in cls.model_fields
    assert not hasattr(cls(), knob)


def test_only_the_services_on_the_bus_have_bus_settings_and_only_sealers_a_master_key() -> None:
    assert not issubclass(IdentitySettings, BusSettings)
    assert all(issubclass(cls, BusSettings) for cls, *_ in OWN_KNOBS if cls is not IdentitySettings)
    assert {cls for cls, *_ in OWN_KNOBS if issubclass(cls, SealSettings)} == {IntakeSettings, NotifySettings}


def test_the_ledger_gap_follows_the_redelivery_time_in_the_status_settings() -> None:
    assert StatusSettings(redelivery_seconds=2).ledger_gap_seconds == 24
    with pytest.raises(ValidationError, match="SBT_LEDGER_GAP_SECONDS"):
        StatusSettings(redelivery_seconds=5, ledger_gap_seconds=6)


def test_production_refusals_belong_to_the_parts_that_need_the_keys() -> None:
    keys = {"jwt_public_keys": {"k": "pem"}}
    # Blocking keeps no sealed secrets and no ledger: it needs neither key to start in production.
    assert BlockingSettings(env="production", **keys).env == "production"
    with pytest.raises(ValidationError, match="SBT_MASTER_KEY"):
        IntakeSettings(env="production", **keys)
    with pytest.raises(ValidationError, match="SBT_LEDGER_PRIVATE_KEY"):
        StatusSettings(env="production", **keys)
    with pytest.raises(ValidationError, match="SBT_JWT_PUBLIC_KEYS"):
        IdentitySettings(env="production")
