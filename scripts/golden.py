#!/usr/bin/env python3
"""Golden reports: what `hanemu home run` and `hanemu ota simulate` say, recorded and compared.

A refactor must change nothing it does not name. This records the JSON reports of the shipped
homes and of a matrix of `ota simulate` runs (every profile and activation mode, plain Zigbee
downloads, faults and power loss), each with its exit status and error line, into
tests/golden/, and compares a fresh run against them (`tests/test_golden.py` does the same).

Usage: scripts/golden.py record | check [NAME...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from emulator.cli import cli  # noqa: E402

GOLDEN_DIR = ROOT / "tests" / "golden"
HOMES = ("default", "lossy", "negative", "zigpy-server")
DEFECT_HOMES = ("mixed-build", "wifi-at-zero", "short-duration", "too-big")
"""Homes in tests/device/homes/ that showed the device-stack defects."""
PROFILES = (
    "cad",
    "hcalcs",
    "hcalcs-opt1",
    "ihd",
    "ihd-opt1",
    "ppmid",
    "ppmid-ch-managed",
    "ppmid-opt1",
    "ppmid-opt2",
)
MODES = ("auto", "critical", "non-critical", "ch-managed", "none")
SMALL = ("--image-size", "4096", "--seed", "3")
ZIGBEE_IMAGE = "images/zigbee-integrity.ota"


def simulate_matrix() -> dict[str, list[str]]:
    """Case name -> `hanemu ota simulate` arguments."""
    cases: dict[str, list[str]] = {}
    for profile in PROFILES:
        for mode in MODES:
            cases[f"{profile}/{mode}"] = ["--profile", profile, "--activate", mode, *SMALL]
    gb = {
        "ihd-opt1/lossy-power-loss": [
            "--drop",
            "0.05",
            "--duplicate",
            "0.02",
            "--reorder",
            "0.05",
            "--power-loss",
            "0.5",
        ],
        "ihd-opt1/corrupt": ["--corrupt", "0.01"],
        "ihd-opt1/supplier-B": ["--supplier", "B"],
        "ihd-opt1/rogue": ["--supplier", "rogue"],
        "ihd-opt1/forged": ["--supplier", "forged"],
        "ihd-opt1/wrong-hash": ["--hash", "00" * 32],
        "ihd-opt1/future": ["--at", "2026-01-02T00:00:00Z"],
        "ihd-opt1/future-cancel": ["--at", "2026-01-02T00:00:00Z", "--cancel"],
        "ihd-opt1/replay": ["--replay"],
        "ppmid-opt1/replay": ["--replay"],
        "ppmid-ch-managed/future": ["--at", "2026-01-01T06:00:00Z"],
        "hcalcs-opt1/pages": ["--page-size", "256"],
        "hcalcs-opt1/power-loss-twice": ["--power-loss", "0.3", "--power-loss", "0.7"],
        "ppmid-opt2/wait-for-data": ["--wait-for-data", "30", "--min-block-period", "100"],
    }
    for name, extra in gb.items():
        profile = name.split("/")[0]
        cases[name] = ["--profile", profile, *SMALL, *extra]
    plain = {
        "zigbee/default": [],
        "zigbee/pages": ["--page-size", "512"],
        "zigbee/wait-for-data": ["--wait-for-data", "10"],
        "zigbee/min-block-period": ["--min-block-period", "50"],
        "zigbee/upgrade-delay": ["--upgrade-time", "120"],
        "zigbee/upgrade-wait": ["--upgrade-time", "wait", "--release-after", "600"],
        "zigbee/lossy": ["--drop", "0.1", "--duplicate", "0.05", "--reorder", "0.1"],
        "zigbee/corrupt": ["--corrupt", "0.02"],
        "zigbee/power-loss": ["--power-loss", "0.25", "--power-loss", "0.75"],
        "zigbee/small-blocks": ["--max-data-size", "20", "--server-block-cap", "16"],
    }
    for name, extra in plain.items():
        cases[name] = ["--image", ZIGBEE_IMAGE, "--seed", "2", *extra]
    return cases


def _invoke(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    out: dict[str, Any] = {"args": args, "exit": result.exit_code}
    stdout = result.stdout.strip()
    try:
        out["report"] = json.loads(stdout) if stdout else None
    except json.JSONDecodeError:
        out["stdout"] = stdout
    if result.exit_code not in (0, 1):
        out["stderr"] = result.stderr.strip()
    return out


def record_simulate(name: str, args: list[str]) -> dict[str, Any]:
    return _invoke(["ota", "simulate", *args, "--json"])


def record_home(path: str) -> dict[str, Any]:
    return _invoke(["home", "run", path, "--json"])


def cases() -> dict[str, Any]:
    """Golden file name -> a function that produces its content."""
    out: dict[str, Any] = {
        f"home-{h}": (lambda h=h: record_home(f"profiles/homes/{h}.toml")) for h in HOMES
    }
    for h in DEFECT_HOMES:
        out[f"home-{h}"] = lambda h=h: record_home(f"tests/device/homes/{h}.toml")
    for name, args in simulate_matrix().items():
        key = "simulate-" + name.replace("/", "--")
        out[key] = lambda name=name, args=args: record_simulate(name, args)
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("record", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    import os

    os.chdir(ROOT)
    wanted = set(argv[1:])
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, make in cases().items():
        if wanted and name not in wanted:
            continue
        data = make()
        path = GOLDEN_DIR / f"{name}.json"
        text = json.dumps(data, indent=1, sort_keys=True) + "\n"
        if argv[0] == "record":
            path.write_text(text)
            print(f"recorded {path.relative_to(ROOT)}")
        elif not path.exists() or path.read_text() != text:
            failed += 1
            print(f"differs: {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
