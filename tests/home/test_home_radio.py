"""A home runs on either air: the shipped homes reach their expectations on the direct air as
they do on zigpy's, and `--radio` overrides the file's choice."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.home import HOMES_DIR, load_home, run_home

AIR_NEUTRAL_HOMES = ("default", "lossy", "negative")
"""zigpy-server.toml uses zigpy's own OTA server, which only the zigpy air has."""


@pytest.mark.parametrize("name", AIR_NEUTRAL_HOMES)
def test_shipped_home_meets_its_expectations_on_the_direct_air(name):
    config = load_home(HOMES_DIR / f"{name}.toml")
    direct = run_home(config, radio="direct")
    zigpy = run_home(config)
    assert (direct.radio, zigpy.radio) == ("direct", "zigpy")
    assert direct.ok, [(d.name, d.outcome, d.reason) for d in direct.devices]
    # The same verdicts; how often a refusing device re-downloads and re-raises its alert
    # depends on how long the others keep the home running, so alerts compare as sets.
    assert [(d.name, d.outcome, set(d.alerts), d.activation_response) for d in direct.devices] == [
        (d.name, d.outcome, set(d.alerts), d.activation_response) for d in zigpy.devices
    ]


def test_radio_option_overrides_the_file_and_refuses_what_the_air_cannot_do(tmp_path):
    ok = CliRunner().invoke(cli, ["home", "run", "--radio", "direct", "--json"])
    assert ok.exit_code == 0 and '"radio": "direct"' in ok.stdout
    pcap = CliRunner().invoke(
        cli, ["home", "run", "--radio", "direct", "--pcap", str(tmp_path / "x.pcap")]
    )
    assert pcap.exit_code == 2
    assert pcap.stderr.strip() == (
        "error: a pcap capture needs the zigpy radio (the direct air has no Zigbee frames)"
    )
    server = CliRunner().invoke(
        cli, ["home", "run", str(HOMES_DIR / "zigpy-server.toml"), "--radio", "direct"]
    )
    assert server.exit_code == 2
    assert "zigpy's OTA server runs on the zigpy radio only" in server.stderr
