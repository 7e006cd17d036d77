"""Shared drivers for the robustness tests: the CLI in-process (CliRunner) or as a subprocess
bounded in time and memory, so an input read forever fails the test instead of the machine."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from emulator.cli import cli

PROJECT = Path(__file__).resolve().parent.parent.parent
IMAGES = PROJECT / "images"
GB_IMAGE = IMAGES / "gb-hcalcs.ota"
BUILD = ("image", "build", "--manufacturer-id", "1", "--image-type", "2", "--file-version", "3")
"""`hanemu image build` with its required identity options; add -o and --payload."""
MEMORY_CAP = 1 << 30
"""Address space a subprocess may use: an endless read fails fast instead of eating the host."""
TIME_CAP = 30.0


def invoke(*args, env: dict[str, str] | None = None) -> Result:
    """`hanemu ARGS` in this process (stdout and stderr apart)."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, prog_name="hanemu")


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def hanemu(*args, cwd: Path | None = None, env: dict[str, str] | None = None, **io):
    """`hanemu ARGS` as a subprocess capped in memory and time (a hang fails the test)."""
    io.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "emulator.cli", *map(str, args)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=TIME_CAP,
        preexec_fn=_cap_memory,
        check=False,
        **io,
    )


@pytest.fixture()
def fifo(tmp_path: Path) -> Path:
    """A FIFO nobody writes to: opening it for reading the ordinary way blocks forever."""
    path = tmp_path / "image.fifo"
    os.mkfifo(path)
    return path
