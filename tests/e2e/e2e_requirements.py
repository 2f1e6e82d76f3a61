"""What the browser tests need, and the one place that decides between skipping and failing when it is missing.

On a developer machine without Chromium or Playwright the tests skip with the reason; `MINIAGENTS_E2E_REQUIRED=1`
(set by CI) turns that into a failure, so a CI image that lost the browser cannot pass silently.
"""

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

__all__ = ["chromium_path", "require_module", "unavailable"]

REQUIRED_ENV = "MINIAGENTS_E2E_REQUIRED"
CHROMIUM_ENV = "MINIAGENTS_E2E_CHROMIUM"


def unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRED_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRED_ENV}=1 makes this an error instead of a skip)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """Import `name` (at module level too), or skip/fail saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"`{name}` is not installed: `pip install -e '.[dev]'` brings it")


def chromium_path() -> str:
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        unavailable(
            f"Chromium not found at {path}: install Debian's browser (`sudo apt-get install chromium`) "
            f"or point {CHROMIUM_ENV} at a Chromium binary"
        )
    return path
