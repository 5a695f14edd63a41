"""The settings of the CLI, which runs, seeds, checks and operates the whole system: every service's
settings composed into one (the same ``SBT_`` variables), plus the knobs only ``sbt run`` has. Commands that
act for one service may as well take that service's own settings; this is for those that span several."""

from __future__ import annotations

from functools import lru_cache

from services.blocking.settings import BlockingSettings
from services.identity.settings import IdentitySettings
from services.intake.settings import IntakeSettings
from services.notify.settings import NotifySettings
from services.recommendation.settings import RecommendationSettings
from services.sanction.settings import SanctionSettings
from services.status.settings import StatusSettings


class SystemSettings(IntakeSettings, RecommendationSettings, SanctionSettings, BlockingSettings, StatusSettings,
                     IdentitySettings, NotifySettings):
    # `sbt run` loads the shipped reference data (deploy/seed/: agencies, violations, elections) into intake's
    # database on its first start, once; false leaves a new system without any (every report is refused).
    load_reference_seed: bool = True


@lru_cache
def get_settings() -> SystemSettings:
    return SystemSettings()
