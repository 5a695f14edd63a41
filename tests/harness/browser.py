"""A real browser for the dashboard's tests and screenshots: Debian's Chromium (installed with apt-get when
missing and we are root), driven by Playwright from PyPI (installed with pip when missing)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT = "playwright==1.65.2"  # the pin in pyproject.toml's test extras
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class NoBrowser(RuntimeError):
    """No browser can be had here; the message says why."""


def _run(command: list[str], timeout: int) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=timeout, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def playwright_api():
    """``playwright.async_api``, with Chromium at CHROMIUM; raises NoBrowser when neither can be installed."""
    if not Path(CHROMIUM).exists():
        if shutil.which("apt-get") and os.geteuid() == 0:
            installed = _run(["apt-get", "install", "-y", "-q", "chromium"], 900) or (
                _run(["apt-get", "update", "-q"], 300) and _run(["apt-get", "install", "-y", "-q", "chromium"], 900)
            )
            if not installed or not Path(CHROMIUM).exists():
                raise NoBrowser("no browser: apt-get could not install Debian's chromium package")
        else:
            raise NoBrowser(f"no browser: {CHROMIUM} is missing and apt-get is unavailable or we are not root")
    try:
        return importlib.import_module("playwright.async_api")
    except ImportError:
        if not _run([sys.executable, "-m", "pip", "install", "--quiet", PLAYWRIGHT], 600):
            raise NoBrowser(f"no browser driver: pip could not install {PLAYWRIGHT}") from None
        importlib.invalidate_caches()
        return importlib.import_module("playwright.async_api")
