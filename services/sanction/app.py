"""The sanction service (port 8003)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.sanction import agency_regions, api, handlers, sweeps
from services.sanction.models import Base, messaging
from shared.service import ServiceSpec, create_service_app
from services.sanction.settings import SanctionSettings, get_settings

async def _background(runtime) -> None:  # noqa: ANN001 - the sanction Runtime
    await asyncio.gather(sweeps.sweep_periodically(runtime), agency_regions.follow(runtime))


SPEC = ServiceSpec(
    name="sanction",
    title="SBT sanction",
    description="The PPK's follow-up of each recommendation: the decree, the deadline in working days "
    "(suspension, resumption, extension), early warnings and overdue announcements from a periodic and "
    "on-demand sweep. Every state change and its events commit together.",
    metadata=Base.metadata,
    messaging=messaging,
    routers=[api.router],
    handlers=handlers.handlers,
    background=_background,
)


def create_app(settings: SanctionSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(SPEC, settings)
