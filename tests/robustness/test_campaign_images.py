"""A home's campaign images are read, parsed and matched to the devices they address before the
network starts: one line naming the file and the key, exit 2, never a traceback or a two-day
run that ends 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.device.campaign import profile_image
from emulator.profiles import load_profile

IMAGES = Path(__file__).resolve().parents[2] / "images"


def home_with_image(tmp_path: Path, image: Path) -> Path:
    home = tmp_path / "home.toml"
    home.write_text(
        '[home]\nradio = "direct"\n'
        '[[device]]\nname = "hcalcs"\nprofile = "hcalcs-opt1"\n'
        f'[[campaign]]\nimage = "{image}"\n'
    )
    return home


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"", "not an OTA upgrade file"),
        (b"garbage bytes that are no OTA file at all", "not an OTA upgrade file"),
    ],
)
def test_a_campaign_image_that_is_no_ota_file_is_one_line(tmp_path, content, what):
    image = tmp_path / "bad.ota"
    image.write_bytes(content)
    result = CliRunner().invoke(cli, ["home", "run", str(home_with_image(tmp_path, image))])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {image}: ") and what in line


def test_a_campaign_image_for_another_device_is_refused_before_the_run(tmp_path):
    home = home_with_image(tmp_path, IMAGES / "zigbee-integrity.ota")
    result = CliRunner().invoke(cli, ["home", "run", str(home)])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "key campaign[0].image: is for manufacturer 0x1234 image type 0x0001" in line
    assert "device hcalcs (hcalcs-opt1) is manufacturer 0x1234 image type 0x0103" in line


def test_a_campaign_image_that_fits_runs(tmp_path):
    image = tmp_path / "fits.ota"
    image.write_bytes(profile_image(load_profile("hcalcs-opt1"), size=256))
    home = home_with_image(tmp_path, image)
    result = CliRunner().invoke(cli, ["home", "run", str(home), "--json"])
    assert result.exit_code == 0, result.stderr
    assert '"outcome": "activated"' in result.stdout
