"""The error boundary: a system error names its file (or standard output), a reader that went
away ends a command quietly, and Ctrl-C is one line and exit 130."""

from __future__ import annotations

import json
import os

import pytest

from emulator.cli import image as image_cli

from .conftest import BUILD, GB_IMAGE, hanemu, invoke

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")


@needs_dev_full
def test_a_failed_write_names_the_file(tmp_path):
    """Used to be `error: : No space left on device`."""
    result = invoke(*BUILD, "-o", "/dev/full", "--payload", GB_IMAGE)
    assert result.stderr == "error: /dev/full: No space left on device\n"
    assert result.exit_code == 2


@needs_dev_full
def test_a_failed_write_to_standard_output_says_standard_output():
    with open("/dev/full", "w") as full:
        result = hanemu("profiles", "list", stdout=full)
    assert result.stderr == "error: standard output: No space left on device\n"
    assert result.returncode == 2


@pytest.mark.parametrize(
    "args",
    [
        ("profiles", "list"),
        ("image", "inspect", *[GB_IMAGE] * 3),
        ("image", "inspect", "--json", *[GB_IMAGE] * 200),
    ],
)
def test_a_reader_that_went_away_ends_the_command_quietly(args):
    """`hanemu ... | head` used to print `error: : Broken pipe` and exit 2."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = hanemu(*args, stdout=write_end)
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 0


def test_ctrl_c_exits_130_with_one_line(monkeypatch):
    """Ctrl-C used to exit 1 ("Aborted!"), the code that means a check failed."""

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt  # what Python's SIGINT handler raises wherever the command is

    monkeypatch.setattr(image_cli, "parse_image", interrupted)
    result = invoke("image", "inspect", GB_IMAGE)
    assert result.stderr == "interrupted\n"
    assert result.exit_code == 130


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--nope",), "No such option '--nope' (see 'hanemu --help')"),
        (
            ("image", "build", "-o", "x"),
            "Missing option '--manufacturer-id' (see 'hanemu image build --help')",
        ),
        (
            ("ota", "simulate", "--drop", "2"),
            "Invalid value for '--drop': 2.0 is not in the range 0.0<=x<=1.0"
            " (see 'hanemu ota simulate --help')",
        ),
    ],
)
def test_bad_usage_is_one_line(args, expected):
    """click printed usage, a hint and the error on four lines; every other error is one."""
    result = invoke(*args)
    assert result.stderr == f"error: {expected}\n"
    assert result.exit_code == 2


def test_inspect_json_says_why_it_exits_2_on_stderr_too(tmp_path):
    """With --json an unparseable file was only a JSON line: exit 2 with nothing on stderr."""
    junk = tmp_path / "junk.ota"
    junk.write_bytes(b"not an OTA file")
    result = invoke("image", "inspect", "--json", junk)
    line = json.loads(result.stdout)
    assert result.stderr == f"error: {junk}: {line['error']}\n"
    assert result.exit_code == 2
