"""The README's code examples, as the tests run them: what a reader copies must work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.harness.signing import fixed_producer_keys

README = Path(__file__).resolve().parents[2] / "README.md"


def python_block_after(marker: str) -> str:
    """The first ```python block after the line containing ``marker``."""
    text = README.read_text()
    start = text.index("```python\n", text.index(marker)) + len("```python\n")
    return text[start:text.index("```", start)]


def write_keys(folder: Path) -> Path:
    """What a subscriber saves from GET /v1/ledger/keys: the pinned producer keys, under ``producers``."""
    path = folder / "keys.json"
    path.write_text(json.dumps({"producers": fixed_producer_keys().document()}))
    return path


def start(code: str, folder: Path, env: dict[str, str]) -> subprocess.Popen:
    (folder / "example.py").write_text(code)
    return subprocess.Popen([sys.executable, "example.py"], cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
