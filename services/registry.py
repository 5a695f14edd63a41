"""The services of SBT, their ports, and how to build each one's app."""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI

from shared.settings import SERVICE_PORTS, ServiceSettings

# In start-up order: the read side first, so it is ready to consume what the others publish.
SERVICES: list[str] = [
    name for name in sorted(SERVICE_PORTS, key=lambda n: n != "status") if (Path(__file__).parent / name / "app.py").exists()
]


def create_app(service: str, settings: ServiceSettings | None = None) -> FastAPI:
    if service not in SERVICES:
        raise KeyError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{service}.app")
    return module.create_app(settings)


def create_asgi(service: str, settings: ServiceSettings | None = None):  # noqa: ANN201 - an ASGI callable
    """What the server runs: the service's app, behind its hot read path when it has one.

    A hot path (``app.state.front_door``) sits in front of the whole middleware stack, error handling
    included, because for a read answered from memory in microseconds every layer costs more than the
    answer; everything it does not answer goes on to the app unchanged.
    """
    app = create_app(service, settings)
    front_door = getattr(app.state, "front_door", None)
    return front_door(app) if front_door is not None else app
