"""Options and home-file values that used to be misread or silently ignored."""

from __future__ import annotations

import json

import pytest

from .conftest import IMAGES, invoke


def test_at_with_an_offset_is_converted_to_utc():
    """`--at ...+01:00` was refused ("must be an aware UTC datetime")."""
    result = invoke(
        "ota", "simulate", "--profile", "ihd-opt1", "--image-size", "1000",
        "--at", "2026-01-01T02:00:00+01:00", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (command,) = json.loads(result.stdout)["commands"]
    assert command["at"] == "2026-01-01T01:00:00Z"


def test_image_size_without_a_profile_is_an_error():
    """`--image-size` sizes the image built for a profile; without one it was silently ignored."""
    result = invoke(
        "ota", "simulate", "--image", IMAGES / "zigbee-integrity.ota", "--image-size", 9
    )
    assert result.stderr == "error: --image-size needs --profile\n"
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        ("*", "must not be '*' (in a campaign, '*' means every device), got '*'"),
        ("", "must not be empty, got ''"),
    ],
)
def test_a_device_cannot_be_named_star_or_nothing(tmp_path, monkeypatch, name, complaint):
    home = tmp_path / "home.toml"
    home.write_text(f'[[device]]\nname = "{name}"\nprofile = "cad"\nroute = "wifi"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("home", "run", home)
    assert result.stderr == f"error: home.toml: key device[0].name: {complaint}\n"
    assert result.exit_code == 2
