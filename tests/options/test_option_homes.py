"""Every shipped option scenario runs as its file expects (`hanemu home run` exits 0)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.home import load_home, run_home

OPTIONS = Path(__file__).resolve().parents[2] / "profiles" / "homes" / "options"
HOMES = sorted(OPTIONS.glob("*.toml"))


def test_there_are_option_homes():
    assert len(HOMES) >= 16


@pytest.mark.parametrize("home", HOMES, ids=[h.stem for h in HOMES])
def test_each_option_home_runs_as_expected(home):
    config = load_home(home)
    assert config.option, "an option home names its option"
    assert all(d.expect is not None for d in config.devices)
    assert all(d.expect_findings is not None for d in config.devices)
    report = run_home(config)
    assert report.ok, [(d.name, d.outcome, d.reason, d.findings) for d in report.devices]


def test_home_run_exits_0_on_an_option_home():
    result = CliRunner().invoke(cli, ["home", "run", str(OPTIONS / "ihd-opt2-rogue.toml")])
    assert result.exit_code == 0, result.output
    assert "rogue-activation" in result.output
