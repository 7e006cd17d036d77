"""Outside programs the tests run (tshark, headless Chromium): found on PATH, or installed by
the project's own script (scripts/install-<name>); a test that needs one is skipped, saying
why, only when it cannot be installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def installed(name: str) -> str:
    """The path of program `name` (`tshark`, `chromium`), installed first when absent."""
    found = shutil.which(name)
    if found is None:
        install = subprocess.run(
            [str(ROOT / "scripts" / f"install-{name}")], capture_output=True, text=True
        )
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"{name} cannot be installed: {install.stderr.strip()[-300:]}")
    return found
