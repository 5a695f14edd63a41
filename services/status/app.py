"""The status service (port 8005)."""

from __future__ import annotations

import asyncio
import dataclasses

from fastapi import FastAPI

from services.status import agency_regions, api, handlers, public_api, stats_api, worklists_api
from services.status.dashboard import export_routes, oidc_routes, public_routes
from services.status.dashboard import routes as dashboard
from services.status.hot_path import StatusHotPath
from services.status.ledger import api as ledger_api
from services.status.ledger.service import ledger_of, publish_periodically
from services.status.models import Base, messaging
from services.status.read_index import StatusIndex, keep_current
from shared.service import ServiceSpec, create_service_app
from services.status.settings import StatusSettings, get_settings



async def _background(runtime) -> None:  # noqa: ANN001 - the status Runtime
    await asyncio.gather(publish_periodically(runtime), agency_regions.follow(runtime))


SPEC = ServiceSpec(
    name="status",
    title="SBT status",
    description="The shared read side: one status per civil servant, case timelines and figures, "
    "folded from every case event with the shared pure function `apply`.",
    metadata=Base.metadata,
    messaging=messaging,
    routers=[api.router, stats_api.router, public_api.router, worklists_api.router, public_routes.router, dashboard.router,
             oidc_routes.router, export_routes.router, ledger_api.router, ledger_api.forks_router],
    # A batch of events at a time: each appended to the ledger and folded into the read model, in one
    # transaction (services/status/applying.py).
    handlers=lambda runtime: handlers.handlers(ledger_of(runtime).ledger),
    background=_background,
)


def create_app(settings: StatusSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    poll = settings.status_index_poll_seconds
    if poll <= 0:
        return create_service_app(SPEC, settings)
    index = StatusIndex(kept=settings.status_index_kept)

    def with_index(runtime):  # noqa: ANN001, ANN202 - told of every append before the consumer starts
        ledger = ledger_of(runtime).ledger
        ledger.on_append.append(index.expect)
        ledger.on_commit.append(index.committed)
        return SPEC.handlers(runtime)

    async def background(runtime) -> None:  # noqa: ANN001
        await asyncio.gather(_background(runtime), keep_current(runtime, index, poll))

    app = create_service_app(dataclasses.replace(SPEC, handlers=with_index, background=background), settings)
    # In front of the whole app: the hot status read skips the middleware stack (see hot_path.py).
    verifier, access_log = app.state.token_verifier, app.state.access_log
    app.state.front_door = lambda inner: StatusHotPath(inner, index=index, verifier=verifier, access_log=access_log)
    return app
