"""Shared pieces of the fleet tests: small campaign files and the `hanemu` command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

SMALL = """
    [campaign]
    name = "small"
    homes = 8
    seed = 7
    retries = 1

    [mix]
    single_fuel = 0.25
    dual_fuel = 0.25
    hcalcs = 0.25
    cad = 0.25

    [options]
    ihd = "ihd-opt2"
    ppmid = "ppmid-opt1"
    hcalcs = "hcalcs-opt2"
    cad = "cad"

    [image]
    size = 2000
    file_version = 0x0123ABCE

    [waves]
    homes_per_wave = 3
    spacing_s = 600
    """
"""Every home kind and every route: IHD option 2 (DCC, a Display Message: a finding), PPMID
option 1 (DCC), HCALCS option 2 (a site visit), a CAD (Wi-Fi); three homes a wave."""


def campaign_file(directory: Path, text: str = SMALL, name: str = "small.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def hanemu(*args: object, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=dict(os.environ),
    )


def one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr, result.stderr
