"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from tests.harness.database import backend
from tests.harness.system import SbtSystem


def pytest_report_header(config) -> str:  # noqa: ANN001
    return f"sbt test database: {backend()}"


@pytest.fixture
async def make_system(tmp_path) -> AsyncIterator[Callable]:  # noqa: ANN001
    """Builds and starts a system of the named services; everything is torn down after the test."""
    systems: list[SbtSystem] = []

    async def build(*services: str, **options) -> SbtSystem:
        system = SbtSystem(tmp_path / f"system{len(systems)}", list(services), **options)
        systems.append(system)
        return await system.start()

    yield build
    for system in systems:
        await system.stop()
