"""Text from user files (header strings, file, home and device names) is shown as it is, never
read as Rich markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import BUILD, invoke


def _build(tmp_path: Path, header: str, name: str = "v.ota") -> Path:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"firmware")
    out = tmp_path / name
    built = invoke(*BUILD, "-o", out, "--payload", payload, "--header-string", header)
    assert built.exit_code == 0, built.stderr
    return out


@pytest.mark.parametrize("header", ["[/x]", "[red]v1[/red]"])
def test_header_strings_are_shown_literally(tmp_path, header):
    """`[/x]` raised MarkupError; `[red]v1[/red]` was shown as "v1"."""
    result = invoke("image", "inspect", _build(tmp_path, header))
    assert result.exit_code == 0, result.stderr
    assert header in result.stdout


def test_file_names_are_shown_literally(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("image", "inspect", _build(tmp_path, "", name="[red]v.ota").name)
    assert result.exit_code == 0, result.stderr
    assert "[red]v.ota (zigbee)" in result.stdout


def test_home_and_device_names_are_shown_literally(tmp_path, monkeypatch):
    home = tmp_path / "home.toml"
    home.write_text(
        '[home]\nname = "[/x]"\nradio = "direct"\n'
        '[[device]]\nname = "[red]v1[/red]"\nprofile = "cad"\nroute = "wifi"\n'
        "[[campaign]]\nbuild = { file_version = 0x0123ABCE, size = 1000 }\n"
    )
    monkeypatch.chdir(tmp_path)
    result = invoke("home", "run", home)
    assert result.exit_code == 0, result.stderr
    assert "home [/x] (seed 0" in result.stdout
    assert "[red]v1[/red]" in result.stdout
