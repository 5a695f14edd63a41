"""The intake service (port 8001)."""

from __future__ import annotations

from fastapi import FastAPI

from services.intake import api, handlers, public
from services.intake.filing import run_filer
from services.intake.hot_path import FilingHotPath
from services.intake.models import Base, messaging
from shared.service import ServiceSpec, create_service_app
from services.intake.settings import IntakeSettings, get_settings

SPEC = ServiceSpec(
    name="intake",
    title="SBT intake",
    description="Reports in, cases opened, public receipts. Every state change and its events commit together.",
    metadata=Base.metadata,
    messaging=messaging,
    routers=[api.router, public.router],
    handlers=handlers.handlers,
    background=run_filer,
)


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(SPEC, settings)
    # In front of the whole app: filing a report skips the middleware stack (see hot_path.py).
    verifier, access_log = app.state.token_verifier, app.state.access_log
    body_limit = app.state.settings.max_body_bytes
    app.state.front_door = lambda inner: FilingHotPath(inner, verifier=verifier, access_log=access_log,
                                                       body_limit=body_limit)
    return app
