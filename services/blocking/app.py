"""The blocking service (port 8004)."""

from __future__ import annotations

import dataclasses

from fastapi import FastAPI

from services.blocking import api, handlers
from services.blocking.block_index import BlockIndex, keep_current
from services.blocking.hot_path import HotPath
from services.blocking.models import Base, messaging
from shared.service import ServiceSpec, create_service_app
from services.blocking.settings import BlockingSettings, get_settings

SPEC = ServiceSpec(
    name="blocking",
    title="SBT blocking",
    description="Personnel-data blocks: placed when a PPK's follow-up is overdue, lifted when the sanction is "
    "recorded, and by BKN's hand with a reason; escalation to the President of agencies that leave cases "
    "overdue. `GET /v1/personnel/{nip}/block` is the personnel systems' question before a promotion or transfer.",
    metadata=Base.metadata,
    messaging=messaging,
    routers=[api.router],
    handlers=handlers.handlers,
)


def create_app(settings: BlockingSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    index = BlockIndex()
    spec = dataclasses.replace(SPEC, background=lambda runtime: keep_current(runtime, index))
    app = create_service_app(spec, settings)
    # In front of the whole app: the personnel systems' reads skip the middleware stack (see hot_path.py).
    verifier, access_log = app.state.token_verifier, app.state.access_log
    app.state.front_door = lambda inner: HotPath(inner, index=index, verifier=verifier, access_log=access_log)
    return app
