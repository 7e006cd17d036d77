"""Headless Chromium for the tests that open a report page: found on PATH, or installed by the
project's own script (scripts/install-chromium); a test that needs it is skipped, saying why,
only when it cannot be installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def chromium() -> str:
    """The chromium executable."""
    found = shutil.which("chromium")
    if found is None:
        install = subprocess.run(
            [str(ROOT / "scripts" / "install-chromium")], capture_output=True, text=True
        )
        found = shutil.which("chromium")
        if found is None:
            pytest.skip(f"chromium cannot be installed: {install.stderr.strip()[-300:]}")
    return found
