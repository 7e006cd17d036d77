"""Writing an output never replaces a device node: a whole-file write renames a temporary file
onto its target, which (as root) would turn /dev/full or /dev/null into a regular file."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.errors import OutputError
from emulator.outputs import AtomicFile, write_atomic


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_image_build_to_a_device_leaves_the_device_a_device(tmp_path, device):
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"firmware")
    CliRunner().invoke(
        cli,
        [
            "image", "build", "-o", device, "--manufacturer-id", "1", "--image-type", "2",
            "--file-version", "3", "--payload", str(payload),
        ],
    )  # fmt: skip
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_a_whole_file_write_refuses_a_device(tmp_path):
    with pytest.raises(OutputError, match="not a regular file"):
        AtomicFile("/dev/null")
    write_atomic("/dev/null", b"written straight to the device")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not [p for p in os.listdir("/dev") if p.endswith(".tmp")]
