"""The blocking service's settings: the shared parts it uses and its own knobs (``SBT_`` variables)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field

from shared.settings import BusSettings, ServiceSettings


class BlockingSettings(ServiceSettings, BusSettings):
    # Blocking is BKN's decision: "decision" (the default) puts an overdue case on the blockers' worklist, where
    # a blocker blocks, gives more time or records why not; "automatic" blocks every overdue case at once.
    blocking_policy: Literal["decision", "automatic"] = "decision"

    # An agency with this many overdue, not-followed-up cases is escalated to the President (blocking).
    escalation_threshold: int = Field(default=3, ge=1)


@lru_cache
def get_settings() -> BlockingSettings:
    return BlockingSettings()
