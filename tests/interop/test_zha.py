"""ZHA (PyPI `zha`, Home Assistant's Zigbee library) against an emulated device: it configures
the device (binding, Configure Reporting, attribute reads) and installs a newer image through
its firmware update entity; the running image is then the file, byte for byte.

zha needs Python 3.12 or newer, so `scripts/interop-zha` runs it in its own venv (.venv-zha,
made once and kept) and prints a JSON report; this test runs that script as it is. It skips only
when no Python >= 3.12 can be found (exit 77).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NO_PYTHON_312 = 77
SETUP_LIMIT_S = 1200
"""The first run makes .venv-zha (about a minute from PyPI); later runs take seconds."""


def test_zha_configures_the_device_and_installs_an_image_through_its_update_entity():
    done = subprocess.run(
        [str(ROOT / "scripts" / "interop-zha")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SETUP_LIMIT_S,
        check=False,
    )
    if done.returncode == NO_PYTHON_312:
        pytest.skip(done.stderr.strip().splitlines()[-1])
    sys.stderr.write(done.stderr[-4000:])
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert "error" not in report, report["error"]
    # ZHA's device configuration finished: it needs answers to Bind_req and Configure Reporting.
    assert report["zha_device_configured"] is True
    sent = report["zha_sent"]
    assert sent["ZDO 0x0021"] >= 1  # Bind_req
    assert sent["0x0001 Configure_Reporting"] >= 1  # on Power Configuration
    # The update entity offered zigpy's provider image and installed it.
    assert report["offered"] == {"installed_version": "0x0123abcd", "latest_version": "0x0123abce"}
    assert report["installed"] is True  # running image == the file
    assert report["running_version"] == "0x0123abce"
    assert report["entity_installed_version"] == "0x0123abce"
    assert done.returncode == 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--bogus"], "unknown argument '--bogus'"),
        (["--seed", "x"], "--seed needs a whole number, not 'x'"),
        (["--seed=1.5"], "--seed needs a whole number, not '1.5'"),
        (["--realtime", "--seed"], "--seed needs a whole number"),
    ],
)
def test_bad_usage_is_one_line_before_anything_is_installed(args, error):
    """Said at once, not after minutes of making .venv-zha (or exit 77 without Python 3.12)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "interop-zha"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},  # no Python >= 3.12 to find
    )
    assert done.stderr == (f"interop-zha: error: {error} (see scripts/interop-zha --help)\n"), (
        done.stderr
    )
    assert (done.returncode, done.stdout) == (2, "")


def test_help_needs_no_venv():
    done = subprocess.run(
        [str(ROOT / "scripts" / "interop-zha"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ZHA interop (docs/interop.md)")
    assert "usage: scripts/interop-zha [--realtime] [--seed N]" in done.stdout
    assert "77 no Python >= 3.12" in done.stdout
