"""`hanemu ota simulate` end to end: one client, one server, virtual time, JSON or text."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from ota_harness import make_image

from emulator import framesize
from emulator.cli import cli

KEYS = {
    "outcome",
    "reason",
    "start_file_version",
    "final_file_version",
    "bytes",
    "blocks",
    "retries",
    "power_losses",
    "virtual_seconds",
    "events",
}


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ota") / "new.ota"
    path.write_bytes(make_image(bytes(range(256)) * 128, version=0x20))  # 32 KiB
    return path


@pytest.fixture(scope="module")
def big_image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ota") / "big.ota"
    path.write_bytes(make_image(bytes(range(256)) * 1024, version=0x20))  # 256 KiB
    return path


def simulate(*args) -> dict:
    result = CliRunner().invoke(cli, ["ota", "simulate", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_simulate_honours_wait_for_data_and_minimum_block_period(big_image_file):
    image_file = big_image_file
    out = simulate(
        "--image", image_file, "--wait-for-data", 30, "--min-block-period", 100, "--seed", 1
    )
    assert set(out) >= KEYS
    assert out["outcome"] == "activated" and out["reason"] is None
    assert (out["start_file_version"], out["final_file_version"]) == (0x1F, 0x20)
    # Blocks of the derived default: the largest one APS-encrypted SE frame holds.
    block = framesize.DEFAULT_MAX_BLOCK_DATA
    assert out["bytes"] == image_file.stat().st_size and out["blocks"] == -(-out["bytes"] // block)
    assert out["virtual_seconds"] >= 30 + 0.1 * out["blocks"]
    download = [e for e in out["events"] if e["event"] == "transition"]
    assert download[0]["from"] == "off" and all("t" in e for e in download)
    plain = simulate("--image", image_file, "--seed", 1)
    assert plain["virtual_seconds"] < out["virtual_seconds"] - 30 - 0.09 * out["blocks"]


def test_simulate_reports_a_corrupted_image_as_rejected(tmp_path, image_file):
    bad = bytearray(image_file.read_bytes())
    bad[5000] ^= 0x80
    path = tmp_path / "bad.ota"
    path.write_bytes(bytes(bad))
    out = simulate("--image", path)
    assert out["outcome"] == "rejected"
    assert out["reason"].startswith("INVALID_IMAGE: ") and "integrity code" in out["reason"]
    assert out["final_file_version"] == out["start_file_version"] == 0x1F


def test_simulate_with_power_loss_faults_and_upgrade_time(image_file):
    out = simulate(
        "--image",
        image_file,
        "--power-loss",
        0.4,
        "--power-loss",
        0.8,
        "--drop",
        0.05,
        "--duplicate",
        0.01,
        "--upgrade-time",
        600,
        "--seed",
        3,
    )
    assert out["outcome"] == "activated" and out["power_losses"] == 2
    assert out["retries"] > 0
    done = next(e["t"] for e in out["events"] if e.get("to") == "countdown-to-upgrade")
    assert out["virtual_seconds"] >= done + 600
    waited = simulate("--image", image_file, "--upgrade-time", "wait", "--release-after", 7200)
    assert waited["outcome"] == "activated"


def test_simulate_no_image_and_page_requests(image_file):
    assert simulate("--image", image_file, "--current-version", 0x20)["outcome"] == "no-image"
    paged = simulate("--image", image_file, "--page-size", 512, "--server-block-cap", 40)
    size = image_file.stat().st_size
    assert paged["outcome"] == "activated" and paged["bytes"] == size
    pages, rest = divmod(size, 512)
    assert paged["blocks"] == pages * -(-512 // 40) + -(-rest // 40)  # 40-byte blocks per page


def test_simulate_text_summary(image_file):
    result = CliRunner().invoke(cli, ["ota", "simulate", "--image", str(image_file)])
    assert result.exit_code == 0
    assert "outcome:          activated" in result.stdout
    assert "virtual time:" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upgrade-time", "soon"], "is not 'now', 'wait' or a number of seconds"),
        (["--drop", "1.5"], "--drop"),
        (["--max-data-size", "0"], "--max-data-size"),
    ],
)
def test_bad_options_are_one_usage_error(image_file, args, message):
    result = CliRunner().invoke(cli, ["ota", "simulate", "--image", str(image_file), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_a_file_that_is_not_an_ota_image_is_one_line_without_traceback(tmp_path):
    path = tmp_path / "junk.ota"
    path.write_bytes(b"not an ota file at all, not even close to one")
    proc = subprocess.run(
        [sys.executable, "-m", "emulator.cli", "ota", "simulate", "--image", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "upgrade_file_id" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
