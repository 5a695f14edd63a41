"""The services of SBT, their ports, and how to build each one's app."""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI

from shared.settings import SERVICE_PORTS, Settings

# In start-up order: the read side first, so it is ready to consume what the others publish.
SERVICES: list[str] = [
    name for name in sorted(SERVICE_PORTS, key=lambda n: n != "status") if (Path(__file__).parent / name / "app.py").exists()
]


def create_app(service: str, settings: Settings | None = None) -> FastAPI:
    if service not in SERVICES:
        raise KeyError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{service}.app")
    return module.create_app(settings)
