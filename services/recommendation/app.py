"""The recommendation service (port 8002)."""

from __future__ import annotations

from fastapi import FastAPI

from services.recommendation import api, handlers, roles
from services.recommendation.models import Base, messaging
from shared.service import ServiceSpec, create_service_app
from services.recommendation.settings import RecommendationSettings, get_settings

SPEC = ServiceSpec(
    name="recommendation",
    title="SBT recommendation",
    description="Verification by the task force, examination and recommendation by the examining authority. "
    "Learns cases from intake's events; every decision and its events commit together.",
    metadata=Base.metadata,
    messaging=messaging,
    routers=[api.router],
    handlers=handlers.handlers,
)


def create_app(settings: RecommendationSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Read at start: a broken role configuration stops the service instead of deciding with the wrong authority.
    assignments = roles.from_settings(settings)
    app = create_service_app(SPEC, settings)
    app.state.role_assignments = assignments
    return app
