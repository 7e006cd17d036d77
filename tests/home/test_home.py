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
    # Critical CS06 devices: receipt alert, the supplier's command accepted, then 8F43 (the
    # executing firmware changed).
    for name in ("ihd", "hcalcs"):
        assert devices[name]["alerts"] == ["8F72", "8F43"]
        assert devices[name]["activation_response"] == 0  # CS06 response: success
        assert devices[name]["bytes"] > 65536 and devices[name]["blocks"] > 1300
    # The CH-managed PPMID: the hub activates it and it raises CS09 (8F8B).
    assert devices["ppmid"]["alerts"] == ["8F72", "8F8B", "8F43"]
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
    assert device.activation_response == 0 and device.alerts == ["8F72", "8F43"]
    assert device.final_file_version == 0x0123ABCE


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[home]\nradio = "ezsp"\n[[device]]\nname = "a"\nprofile = "ihd"\n', "key home.radio"),
        ('[[device]]\nname = "a"\nprofile = "ihd"\nroute = "wifi"\n', "key device[0].route"),
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
    fit the device it addresses (the shipped HCALCS sample's image type) is refused before the
    network starts, naming the campaign and the device (it used to be never offered, and the
    run went on)."""
    from emulator.device.campaign import profile_image
    from emulator.profiles import load_profile

    data = profile_image(load_profile("hcalcs-opt1"), file_version=0x0123ABCE, size=3000)
    (tmp_path / "fw.ota").write_bytes(data)
    sample = (Path(__file__).resolve().parents[2] / "images" / "gb-hcalcs.ota").as_posix()
    fits = """
        [[device]]
        name = "fits"
        profile = "hcalcs-opt1"
        [[campaign]]
        device = "fits"
        image = "fw.ota"
    """
    (device,) = run_home(load_home(home_file(fits))).devices
    assert device.outcome == "activated" and device.bytes == len(data)
    other = (
        fits
        + """
        [[device]]
        name = "other"
        profile = "ppmid-opt1"
        [[campaign]]
        device = "other"
        image = "{sample}"
    """.replace("{sample}", sample)
    )
    with pytest.raises(HomeFileError, match=r"campaign\[1\]\.image: .*device other"):
        run_home(load_home(home_file(other, "other.toml")))


# --- the air a home names -----------------------------------------------------------------------

ONE_DEVICE = '[[device]]\nname = "a"\nprofile = "ihd"\n'


@pytest.mark.parametrize(
    ("radio", "expected"),
    [
        (None, "zigpy"),
        ("zigpy", "zigpy"),
        ("virtual", "zigpy"),
        ("direct", "direct"),
        ("ncp", "ncp"),
        ("ezsp:socket://127.0.0.1:6638", "ezsp:socket://127.0.0.1:6638"),
        ("ezsp:/dev/null", "ezsp:/dev/null"),
    ],
)
def test_radio_names_the_air_and_virtual_is_zigpy(home_file, radio, expected):
    head = "" if radio is None else f'[home]\nradio = "{radio}"\n'
    config = load_home(home_file(head + ONE_DEVICE))
    assert config.radio == expected


@pytest.mark.parametrize(
    ("radio", "complaint"),
    [
        ("ezsp", "must be one of zigpy, direct, ncp, ezsp:/dev/SERIAL or ezsp:socket://HOST:PORT"),
        ("ezsp:socket://127.0.0.1", "must name a network dongle as ezsp:socket://HOST:PORT"),
        ("ezsp:tcp://127.0.0.1:6638", "must name a network dongle as ezsp:socket://HOST:PORT"),
        ("ezsp:/dev/no-such-dongle", "must name a serial device that exists"),
        ("ezsp:", "must name a serial device that exists"),
    ],
)
def test_bad_radio_is_one_line_naming_the_key(home_file, radio, complaint):
    with pytest.raises(HomeFileError) as info:
        load_home(home_file(f'[home]\nradio = "{radio}"\n' + ONE_DEVICE))
    message = str(info.value)
    assert "\n" not in message and f"key home.radio: {complaint}" in message
    assert message.endswith(f"got '{radio}'")


def test_shipped_homes_name_the_zigpy_air():
    from emulator.home import HOMES_DIR

    for path in sorted(HOMES_DIR.glob("*.toml")):
        assert load_home(path).radio == "zigpy"
        assert 'radio = "virtual"' not in path.read_text()


# --- hostile home files: one line naming the file, exit 2, never a traceback -------------------

HOSTILE = [
    # (file bytes, key, words in the message)
    (b'[home]\nname = "caf\xe9"\n', None, "not UTF-8 text (byte 0xE9 at offset 18)"),
    (b"", "device", "a home needs at least one [[device]]"),
    (b"\xef\xbb\xbf[home]\n", None, "invalid TOML"),
    (b"device = 5\n", "device", "must be an array, got 5"),
    (b"device = [5]\n", "device[0]", "must be a table, got 5"),
    (b"home = 1\n" + ONE_DEVICE.encode(), "home", "must be a table, got 1"),
    (b"[home]\nseed = -1\n" + ONE_DEVICE.encode(), "home.seed", "must be in 0.."),
    (b"[home]\nseed = true\n" + ONE_DEVICE.encode(), "home.seed", "must be an integer, got True"),
    (b"[home]\nduration = nan\n" + ONE_DEVICE.encode(), "home.duration", "got nan"),
    (b"[home]\nduration = 1979-05-27\n" + ONE_DEVICE.encode(), "home.duration", "a number"),
    (b"[home]\nradio = 3\n" + ONE_DEVICE.encode(), "home.radio", "must be a string, got 3"),
    (
        ONE_DEVICE.encode() + b"[server]\nupgrade_time = true\n",
        "server.upgrade_time",
        "must be 'now', 'wait' or seconds, got True",
    ),
    (
        ONE_DEVICE.encode() + b"[faults]\npower_loss_at = [0.5, 2]\n",
        "faults.power_loss_at",
        "must be fractions in 0..1",
    ),
    (ONE_DEVICE.encode() + b"firmware_version = 1.5\n", "device[0].firmware_version", "integer"),
    (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", None, "invalid TOML: "),
    (b'"x\\ny" = 1\n', '"x\\u000Ay"', "unknown key (allowed: home, server, device"),
    (
        ONE_DEVICE.encode() + b'[[campaign]]\nimage = "a\\u0000b"\n',
        "campaign[0].image",
        "no such file",
    ),
]


@pytest.mark.parametrize(("content", "key", "words"), HOSTILE)
def test_hostile_home_file_is_one_line_exit_2(tmp_path, monkeypatch, content, key, words):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "home.toml"
    path.write_bytes(content)
    with pytest.raises(HomeFileError) as info:
        load_home(path)
    assert (info.value.source, info.value.key) == ("home.toml", key)
    assert words in info.value.what
    result = CliRunner().invoke(cli, ["home", "run", str(path)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit | None)
    assert result.output.splitlines() == [f"error: {info.value}"]


def test_home_file_that_is_a_directory(tmp_path):
    (tmp_path / "home.toml").mkdir()
    with pytest.raises(HomeFileError, match=r"home\.toml: is a directory, not a home file$"):
        load_home(tmp_path / "home.toml")


def test_unreadable_home_file(home_file, monkeypatch):
    path = home_file(ONE_DEVICE)

    def refuse(path, *_args, **_kwargs):  # what opening a file one may not read does
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("emulator.files.os.open", refuse)
    with pytest.raises(HomeFileError, match=r"home\.toml: cannot read: Permission denied$"):
        load_home(path)


def test_home_file_error_still_importable_from_homefile():
    from emulator.errors import ConfigError
    from emulator.homefile import HomeFileError as from_homefile

    assert from_homefile is HomeFileError is ConfigError
