"""The defects two orchestrators showed, each run as a user would hit it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from emulator.cli import cli
from emulator.home import load_home, run_home

HOMES = Path(__file__).parent / "homes"


def test_devices_of_two_profiles_sharing_a_build_campaign_both_activate():
    """Each gets an image that fits it, and CS06 carries the hash of the image it holds."""
    report = run_home(load_home(HOMES / "mixed-build.toml"))
    for device in report.devices:
        assert device.outcome == "activated", (device.name, device.reason)
        assert device.activation_response == 0
        assert device.gb["receipt_hash"] == device.gb["image_hash"]
    assert report.virtual_seconds < 3600


def test_wifi_campaign_before_the_device_has_power_is_installed_when_it_boots():
    (device,) = run_home(load_home(HOMES / "wifi-at-zero.toml")).devices
    assert device.outcome == "activated"
    assert device.reason == "installed over Wi-Fi"


def test_home_duration_is_honoured():
    report = run_home(load_home(HOMES / "short-duration.toml"))
    assert report.virtual_seconds == 1.0
    (device,) = report.devices
    assert device.outcome != "activated"
    assert all(e["t"] <= 1.0 for e in device.events)


def test_image_larger_than_storage_is_refused_at_once():
    report = run_home(load_home(HOMES / "too-big.toml"))
    (device,) = report.devices
    assert device.outcome == "rejected"
    assert device.reason.startswith("INSUFFICIENT_SPACE: image of 300126 bytes")
    assert report.virtual_seconds < 60
    assert device.bytes == 0


def test_ota_simulate_refuses_a_local_only_profile():
    result = CliRunner().invoke(cli, ["ota", "simulate", "--profile", "ihd"])
    assert result.exit_code == 2
    assert "profile ihd is never offered a HAN download (routes: local)" in result.stderr
