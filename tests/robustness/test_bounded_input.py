"""Every file hanemu reads is a regular file read up to a limit: a device, a FIFO, a directory
or a file over the limit is refused with one line naming it, before anything is read."""

from __future__ import annotations

import pytest

from emulator.errors import InputError
from emulator.files import DEFAULT_LIMIT, LIMIT_VARIABLE, read_input

from .conftest import BUILD, GB_IMAGE, hanemu, invoke

ZERO = "/dev/zero"


def _commands(special: str, tmp) -> list[tuple]:
    """Every command that reads a file a user names, with `special` as that file."""
    out = tmp / "out.ota"
    return [
        ("image", "inspect", special),
        ("image", "verify", special),
        ("image", "verify", GB_IMAGE, "--supplier-key", special),
        (*BUILD, "-o", out, "--payload", special),
        (*BUILD, "-o", out, "--payload", GB_IMAGE, "--tag", f"0xF000:{special}"),
        (*BUILD, "-o", out, "--payload", GB_IMAGE, "--gb", "--min-hw", "1", "--max-hw", "2",
         "--supplier-key", special),
        ("ota", "simulate", "--image", special),
        ("home", "run", special),
        ("gbcs", "decode", special),
        ("gbcs", "verify", "00", "--supplier-cert", special),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(10))
def test_dev_zero_is_refused_by_every_reader(tmp_path, index):
    """/dev/zero used to be read forever (1.5 GB/s of memory) by all of these."""
    args = _commands(ZERO, tmp_path)[index]
    result = hanemu(*args, cwd=tmp_path)
    assert result.stderr == "error: /dev/zero: not a regular file (a character device)\n"
    assert result.returncode == 2


@pytest.mark.parametrize("index", [0, 3, 6, 7, 8])
def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path, fifo, index):
    """Opening a FIFO with no writer used to block forever."""
    args = _commands(fifo.name, tmp_path)[index]
    result = hanemu(*args, cwd=tmp_path)
    assert result.stderr == "error: image.fifo: not a regular file (a FIFO)\n"
    assert result.returncode == 2


def test_file_over_the_limit_is_refused_naming_the_limit(tmp_path):
    result = invoke("image", "inspect", GB_IMAGE, env={LIMIT_VARIABLE: "100"})
    assert result.stderr == (
        f"error: {GB_IMAGE}: larger than the input limit of 100 bytes "
        f"(set {LIMIT_VARIABLE} to raise it)\n"
    )
    assert result.exit_code == 2


def test_home_file_over_the_limit_is_refused(tmp_path, monkeypatch):
    home = tmp_path / "big.toml"
    home.write_text("# padding\n" * 50)
    monkeypatch.chdir(tmp_path)
    result = invoke("home", "run", home, env={LIMIT_VARIABLE: "100"})
    assert result.stderr == (
        "error: big.toml: larger than the input limit of 100 bytes "
        f"(set {LIMIT_VARIABLE} to raise it)\n"
    )
    assert result.exit_code == 2


def test_a_limit_that_is_no_number_is_refused():
    result = invoke("image", "inspect", GB_IMAGE, env={LIMIT_VARIABLE: "lots"})
    assert (
        result.stderr
        == f"error: {LIMIT_VARIABLE}: 'lots' is not a positive whole number of bytes\n"
    )
    assert result.exit_code == 2


def test_read_input_reads_up_to_the_limit_and_not_a_byte_more(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 64)
    assert read_input(path, limit=64) == b"x" * 64
    with pytest.raises(InputError, match="larger than the input limit of 63 bytes"):
        read_input(path, limit=63)
    assert DEFAULT_LIMIT >= 16 << 20  # every real OTA file fits


def test_directory_given_as_an_image_is_a_directory(tmp_path):
    """`image inspect DIR` said "Is a directory" in the system's words; say what was expected."""
    result = invoke("image", "inspect", tmp_path)
    assert result.stderr == f"error: {tmp_path}: is a directory, not an OTA file\n"
    assert result.exit_code == 2


def test_directory_as_a_campaign_image_is_not_no_such_file(tmp_path, monkeypatch):
    """A home whose campaign image is a directory used to get "no such file"."""
    (tmp_path / "images").mkdir()
    home = tmp_path / "home.toml"
    home.write_text(
        '[[device]]\nname = "cad"\nprofile = "cad"\nroute = "wifi"\n'
        '[[campaign]]\nimage = "images"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = invoke("home", "run", home)
    assert result.stderr == (
        "error: home.toml: key campaign[0].image: 'images': is a directory, not an OTA file\n"
    )
    assert result.exit_code == 2
