"""Acceptance 1 of the EZSP issue: the default home with its Comms Hub on stock bellows, over
loopback TCP to hanemu's emulated NCP (`--radio ncp`), reaches the outcomes it reaches on the
zigpy air, and replays exactly from its seed (virtual time, real sockets)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from emulator.cli import cli
from emulator.home import DEFAULT_HOME, load_home, run_home


def verdicts(report):
    # As in test_home_radio: how often a refusing device re-raises its alert depends on how
    # long the others keep the home running, so alerts compare as sets.
    return [(d.name, d.outcome, set(d.alerts), d.activation_response) for d in report.devices]


def test_default_home_on_bellows_over_the_emulated_ncp_agrees_with_the_zigpy_air():
    config = load_home(DEFAULT_HOME)
    ncp = run_home(config, radio="ncp")
    zigpy = run_home(config, radio="zigpy")
    assert (ncp.radio, zigpy.radio) == ("ncp", "zigpy")
    assert ncp.ok, [(d.name, d.outcome, d.reason) for d in ncp.devices]
    assert verdicts(ncp) == verdicts(zigpy)
    assert ncp.real_devices is None  # every device of an NCP home is emulated


def test_home_run_radio_ncp_replays_from_its_seed():
    runs = [CliRunner().invoke(cli, ["home", "run", "--radio", "ncp", "--json"]) for _ in range(2)]
    assert [r.exit_code for r in runs] == [0, 0], runs[0].output
    first, second = (json.loads(r.stdout) for r in runs)
    assert first["radio"] == "ncp" and first["ok"]
    assert first == second
