"""The intake service (port 8001)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.intake import api, handlers, public, retention, retention_api
from services.intake.filing import run_filer
from services.intake.hot_path import FilingHotPath
from services.intake.models import Base, messaging
from shared.service import Runtime, ServiceSpec, create_service_app
from shared import retention as retention_rules
from services.intake.settings import IntakeSettings, get_settings


async def _background(runtime: Runtime) -> None:
    """The filer and the retention sweep, side by side."""
    await asyncio.gather(run_filer(runtime), retention.sweep_periodically(runtime))


SPEC = ServiceSpec(
    name="intake",
    title="SBT intake",
    description="Reports in, cases opened, public receipts. Every state change and its events commit together.",
    metadata=Base.metadata,
    messaging=messaging,
    routers=[api.router, public.router, retention_api.router],
    handlers=handlers.handlers,
    background=_background,
)


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(SPEC, settings)
    try:  # rules that cannot be used stop intake at start, in one line, not at the first sweep
        retention_rules.load(app.state.settings.retention_rules)
    except retention_rules.RetentionError as error:
        raise SystemExit(f"error: retention rules: {error}") from None
    # In front of the whole app: filing a report skips the middleware stack (see hot_path.py).
    verifier, access_log = app.state.token_verifier, app.state.access_log
    body_limit = app.state.settings.max_body_bytes
    app.state.front_door = lambda inner: FilingHotPath(inner, verifier=verifier, access_log=access_log,
                                                       body_limit=body_limit)
    return app
