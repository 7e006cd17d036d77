"""Whole homes on the virtual radio: outcomes per activation class, the report, determinism,
faults, both OTA server implementations, and home-file errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.home import DEFAULT_HOME, HomeFileError, load_home, run_home
from emulator.profiles import profile_names

REPORT_KEYS = {
    "name",
    "profile",
    "ieee",
    "start_file_version",
    "final_file_version",
    "outcome",
    "reason",
    "bytes",
    "blocks",
    "retries",
    "download_seconds",
    "activation_response",
    "alerts",
}

SMALL = """
[home]
name = "small"
seed = {seed}

[server]
implementation = "{server}"

[[device]]
name = "hcalcs"
profile = "hcalcs-opt1"
expect = "{expect}"

[[campaign]]
device = "hcalcs"
build = {{ file_version = 0x0123ABCE, size = {size} }}
supplier = "{supplier}"

[faults]
{faults}
"""


def small(seed=3, server="hanemu", expect="activated", size=4000, supplier="A", faults=""):
    return SMALL.format(
        seed=seed, server=server, expect=expect, size=size, supplier=supplier, faults=faults
    )


def by_name(report):
    return {d["name"]: d for d in report["devices"]}


def test_default_home_end_to_end(tmp_path):
    """README command 1: every device joins, downloads or installs, and activates as its
    activation class says; the summary is printed and the report written."""
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["home", "run", "--report", str(out)])
    assert result.exit_code == 0, result.output
    assert "activated" in result.output and "ppmid" in result.output
    report = json.loads(out.read_text())
    assert {"home", "seed", "virtual_seconds", "devices"} <= set(report)
    devices = by_name(report)
    assert set(devices) == {"ihd", "ppmid", "hcalcs", "cad"}
    for d in devices.values():
        assert set(d) >= REPORT_KEYS
        assert d["outcome"] == "activated"
        assert d["final_file_version"] == 0x0123ABCE != d["start_file_version"]
    # Critical CS06 devices: receipt alert, then the supplier's command accepted.
    for name in ("ihd", "hcalcs"):
        assert devices[name]["alerts"] == ["8F72"]
        assert devices[name]["activation_response"] == 0  # CS06 response: success
        assert devices[name]["bytes"] > 65536 and devices[name]["blocks"] > 1300
    # The CH-managed PPMID: the hub activates it and it raises CS09 (8F8B).
    assert devices["ppmid"]["alerts"] == ["8F72", "8F8B"]
    assert devices["ppmid"]["activation_response"] is None  # no CS06: the hub activated it
    # The CAD never uses the DCC route.
    assert devices["cad"]["blocks"] == 0 and devices["cad"]["alerts"] == []


def test_same_seed_same_report_other_seed_other_addresses(home_file):
    config = load_home(home_file(small(faults="drop_rate = 0.05")))
    first = run_home(config).to_json()
    again = run_home(config).to_json()
    other = run_home(config, seed=99).to_json()
    assert first == again
    assert first["devices"][0]["ieee"] != other["devices"][0]["ieee"]


def test_drops_cost_retries_and_power_loss_resumes(home_file):
    clean = run_home(load_home(home_file(small(), "clean.toml"))).devices[0]
    lossy = run_home(
        load_home(home_file(small(faults="drop_rate = 0.1\npower_loss_at = [0.5]"), "f.toml"))
    ).devices[0]
    assert clean.outcome == lossy.outcome == "activated"
    assert clean.retries == 0 and clean.power_losses == 0
    assert lossy.retries > 0 and lossy.power_losses == 1
    assert lossy.download_seconds > clean.download_seconds


def test_rogue_signed_image_is_rejected_with_alert_8f1c(home_file):
    report = run_home(load_home(home_file(small(supplier="rogue", expect="rejected"))))
    device = report.devices[0]
    assert device.outcome == "rejected" and "signature" in device.reason
    assert device.alerts == ["8F1C"]
    assert device.final_file_version == device.start_file_version
    assert report.ok


def test_unmet_expectation_exits_1(home_file):
    path = home_file(small(supplier="rogue", expect="activated"))
    result = CliRunner().invoke(cli, ["home", "run", str(path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["devices"][0]["outcome"] == "rejected"


def test_zigpy_server_upgrades_se_devices(home_file):
    """zigpy's stock update_firmware serves the campaign; the GB device still waits for CS06."""
    report = run_home(load_home(home_file(small(server="zigpy"))))
    device = report.devices[0]
    assert report.server == "zigpy"
    assert device.outcome == "activated", device.reason
    assert device.activation_response == 0 and device.alerts == ["8F72"]
    assert device.final_file_version == 0x0123ABCE


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[home]\nradio = "ezsp"\n[[device]]\nname = "a"\nprofile = "ihd"\n', "key home.radio"),
        ('[[device]]\nname = "a"\nprofile = "ihd"\nroute = "dcc"\n', "key device[0].route"),
        ('[[device]]\nname = "a"\nprofile = "ihd"\ncolour = 1\n', "key device[0].colour"),
        (
            '[server]\nmax_block_size = 200\n[[device]]\nname = "a"\nprofile = "ihd"\n',
            "key server.max_block_size",
        ),
        (
            '[[device]]\nname = "a"\nprofile = "ihd"\n[faults]\ndrop_rate = "x"\n',
            "key faults.drop_rate",
        ),
        (
            '[[device]]\nname = "a"\nprofile = "ihd"\n[[campaign]]\ndevice = "b"\n'
            "build = { file_version = 1, size = 10 }\n",
            "key campaign[0].device",
        ),
        ("[home\n", "invalid TOML"),
    ],
)
def test_home_file_mistakes_name_file_and_key(home_file, text, needle):
    path = home_file(text)
    with pytest.raises(HomeFileError) as info:
        load_home(path)
    assert needle in str(info.value) and "home.toml" in str(info.value)
    result = CliRunner().invoke(cli, ["home", "run", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert "Traceback" not in result.output


def test_unknown_profile_lists_the_profiles(home_file):
    path = home_file('[[device]]\nname = "a"\nprofile = "ihd-opt9"\n')
    result = CliRunner().invoke(cli, ["home", "run", str(path)])
    assert result.exit_code == 2
    assert "device[0].profile" in result.output and "ihd-opt9" in result.output
    for name in profile_names():
        assert name in result.output


def test_missing_home_file_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["home", "run", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "no such home file" in result.output


def test_shipped_homes_load():
    from emulator.home import HOMES_DIR

    homes = sorted(HOMES_DIR.glob("*.toml"))
    assert DEFAULT_HOME in homes
    for path in homes:
        load_home(path)


@pytest.mark.parametrize("name", ["negative", "lossy", "zigpy-server"])
def test_shipped_example_homes_reach_their_expectations(name):
    from emulator.home import HOMES_DIR

    report = run_home(load_home(HOMES_DIR / f"{name}.toml"))
    assert report.ok, [(d.name, d.outcome, d.reason) for d in report.devices]


def test_separate_processes_write_identical_reports_and_captures(tmp_path):
    """Nothing in a run depends on the process: not hash order, not wall time."""
    import os
    import subprocess
    import sys

    outputs = []
    for hash_seed in ("1", "2"):
        report, pcap = tmp_path / f"r{hash_seed}.json", tmp_path / f"p{hash_seed}.pcap"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "emulator.cli",
                "home",
                "run",
                "--report",
                str(report),
                "--pcap",
                str(pcap),
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        outputs.append((report.read_bytes(), pcap.read_bytes()))
    assert outputs[0] == outputs[1]


def test_campaign_image_file_is_served_as_it_is(home_file, tmp_path):
    """An `image` path (relative to the home file): served byte for byte; a file that does not
    fit the device (the shipped HCALCS sample's image type) is never offered."""
    from emulator.device.campaign import profile_image
    from emulator.profiles import load_profile

    data = profile_image(load_profile("hcalcs-opt1"), file_version=0x0123ABCE, size=3000)
    (tmp_path / "fw.ota").write_bytes(data)
    sample = (Path(__file__).resolve().parents[2] / "images" / "gb-hcalcs.ota").as_posix()
    text = """
        [[device]]
        name = "fits"
        profile = "hcalcs-opt1"
        [[device]]
        name = "other"
        profile = "ppmid-opt1"
        [[campaign]]
        device = "fits"
        image = "fw.ota"
        [[campaign]]
        device = "other"
        image = "{sample}"
    """.replace("{sample}", sample)
    report = run_home(load_home(home_file(text)))
    fits, other = report.devices
    assert fits.outcome == "activated" and fits.bytes == len(data)
    assert other.outcome == "no-image" and other.blocks == 0
