"""The rooms show the architecture, and stay so: shared/ imports no service; a service imports no other
service and not the command-line tools; the status service's read models import nothing above them (no HTTP
routes, no pages)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from services.registry import SERVICES

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.py") if "migrations" not in p.parts]


def test_shared_imports_no_service():
    wrong = {str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m.startswith("services"))
             for p in _modules(ROOT / "shared")}
    assert not {k: v for k, v in wrong.items() if v}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_neither_another_service_nor_the_tools(service):
    wrong = {}
    for path in _modules(ROOT / "services" / service):
        bad = sorted(m for m in _imports(path) if m.startswith("services.")
                     and not m.startswith(f"services.{service}") and m != "services.registry")
        if bad:
            wrong[str(path.relative_to(ROOT))] = bad
    assert not wrong


READ_MODELS = ["read_index.py", "projection.py", "stats.py", "worklists.py", "public_figures.py", "schemas.py"]


@pytest.mark.parametrize("module", READ_MODELS)
def test_the_status_read_models_depend_on_nothing_above_them(module):
    above = ("services.status.api", "services.status.stats_api", "services.status.worklists_api",
             "services.status.public_api", "services.status.dashboard", "services.status.app")
    assert not [m for m in _imports(ROOT / "services" / "status" / module) if m.startswith(above)]
