"""`hanemu ota simulate --profile`: one command runs a whole GB device campaign.

Without `--image` the command builds a GB OTA Upgrade Image that fits the profile, signed by the
test supplier; the JSON reports the outcome, the CS06 response code and the alerts the head-end
received. Bad input is one line on stderr and exit status 2.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.device.campaign import profile_image
from emulator.ota.image import parse_image
from emulator.profiles import load_profile

SMALL = ["--image-size", "4096"]


def simulate(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["ota", "simulate", *SMALL, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_profile_alone_distributes_and_activates():
    out = simulate("--profile", "ihd-opt1")
    assert out["outcome"] == "activated"
    assert out["reason"] is None
    assert out["activation_response"] == 0
    assert out["alerts"] == ["8F72", "8F43"]
    assert out["activation_mode"] == "critical"
    profile = load_profile("ihd-opt1")
    assert out["start_file_version"] == profile.zigbee.firmware_version
    assert out["final_file_version"] == profile.zigbee.firmware_version + 1
    # The image was built from a seeded random Manufacturer Image of --image-size bytes.
    built = profile_image(profile, size=4096, seed=0)
    mi = parse_image(built).manufacturer_image
    assert len(mi) == 4096
    assert out["receipt_hash"] == hashlib.sha256(mi).hexdigest().upper()


def test_default_image_size_is_64_kib():
    result = CliRunner().invoke(cli, ["ota", "simulate", "--profile", "ppmid-opt1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["outcome"] == "activated"
    assert out["bytes"] > 65536


AUTH_FAILED = ["8F3D"] * 3
"""0x8F3D, Trusted Source Authentication Failure, once for each of the head-end's attempts."""


@pytest.mark.parametrize(
    ("args", "outcome", "reason", "response", "alerts"),
    [
        (["--profile", "hcalcs-opt1", "--activate", "non-critical"], "rejected",
         "CS06 refused: signature-required", None, ["8F72", *AUTH_FAILED]),
        (["--profile", "hcalcs-opt1", "--supplier", "B"], "rejected",
         "CS06 refused: supplier-not-in-slot", None, ["8F72", *AUTH_FAILED]),
        (["--profile", "ihd-opt1", "--supplier", "rogue"], "rejected",
         "CS06 refused: supplier-not-in-slot", None, ["8F72", *AUTH_FAILED]),
        (["--profile", "ihd-opt1", "--supplier", "forged"], "rejected",
         "CS06 refused: signature-invalid", None, ["8F72", *AUTH_FAILED]),
        (["--profile", "ppmid-opt1", "--hash", "00" * 32], "rejected",
         "CS06 hashMismatch", 2, ["8F72"]),
        (["--profile", "ppmid-opt1", "--at", "2026-01-01T12:00:00Z", "--cancel"], "downloaded",
         "future-dated activation cancelled", None, ["8F72"]),
        (["--profile", "ppmid-opt1", "--at", "2026-01-01T12:00:00Z"], "activated",
         None, None, ["8F72", "8F66", "8F43"]),
        (["--profile", "ppmid-ch-managed"], "activated", None, None, ["8F72", "8F8B", "8F43"]),
        (["--profile", "ppmid-ch-managed", "--activate", "critical"], "rejected",
         "CS06 refused: activation-class-refuses-cs06", None, ["8F72"]),
        (["--profile", "ihd-opt1", "--activate", "none"], "downloaded",
         "no activation asked for; waiting for activation", None, ["8F72"]),
        (["--profile", "ppmid-opt2", "--replay"], "activated",
         "CS06 refused: replayed-counter", 0, ["8F72", "8F43"]),
    ],
)  # fmt: skip
def test_activation_options(args, outcome, reason, response, alerts):
    out = simulate(*args)
    assert out["outcome"] == outcome
    assert out["reason"] == reason
    assert out["activation_response"] == response
    assert out["alerts"] == alerts
    if outcome != "activated":
        assert out["final_file_version"] == out["start_file_version"]


def test_profile_with_an_image_file(tmp_path):
    path = tmp_path / "hcalcs.ota"
    path.write_bytes(profile_image(load_profile("hcalcs-opt1"), size=2048, seed=5))
    out = simulate("--profile", "hcalcs-opt1", "--image", str(path))
    assert out["outcome"] == "activated"
    assert out["bytes"] == path.stat().st_size


def test_text_output_names_the_alerts_and_response():
    result = CliRunner().invoke(
        cli, ["ota", "simulate", *SMALL, "--profile", "ppmid-opt1", "--hash", "11" * 32]
    )
    assert result.exit_code == 0, result.output
    assert "outcome:          rejected (CS06 hashMismatch)" in result.output
    assert "alerts:           8F72" in result.output
    assert "CS06 response:    2" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "no-such-profile"], "no such profile file"),
        (["--profile", "ihd-opt1", "--hash", "xyz"], "--hash: 'xyz' is not hexadecimal"),
        (["--profile", "ihd-opt1", "--hash", "00ff"], "image hash must be 32 octets, got 2"),
        (["--profile", "ihd-opt1", "--at", "next tuesday"], "not an ISO 8601 date-time"),
        (["--profile", "ihd-opt1", "--supplier", "C"], "unknown supplier 'C'"),
        (["--profile", "ihd-opt1", "--activate", "maybe"], "activation mode must be one of"),
        (["--profile", "ihd-opt1", "--cancel"], "cancel needs a future-dated activation"),
        (["--profile", "ihd-opt1", "--activate", "none", "--replay"], "activation mode none"),
        (["--activate", "critical"], "--activate needs --profile"),
        ([], "give --image FILE or --profile NAME"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(cli, ["ota", "simulate", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output
