"""Stock zigbee-herdsman (npm; Zigbee2MQTT's Zigbee library) against hanemu's emulated EZSP NCP:
its ember adapter connects to `tcp://127.0.0.1:PORT`, forms a network and permits joining; the
emulated device joins, herdsman interviews it and upgrades it with its own OTA
(`Device.updateOta`); the device's running image is then the file herdsman served, byte for
byte.

`scripts/install-herdsman` installs the version pinned in interop/herdsman/ (npm ci, once; quick
after that) and `interop/herdsman/ota.mjs` drives herdsman. The NCP and its home run in this
process, on the wall clock (herdsman does), so the test reads the device's flash directly. It
skips only when Node.js (or npm) is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys

import pytest
from wire import newer_image

from emulator.profiles import Route, load_profile
from emulator.radio.ncp.server import NcpHome, NcpServer
from emulator.scenario import DeviceSpec

ROOT = pathlib.Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install-herdsman"
OTA_SCRIPT = ROOT / "interop" / "herdsman" / "ota.mjs"
NO_NODE = 77
INSTALL_LIMIT_S = 600
"""The first install fetches about 15 MB from the npm registry; later runs check a stamp."""
RUN_LIMIT_S = 120
"""ota.mjs's own hard timeout; the run itself takes seconds."""
IEEE = 0x0011223344556677
PROFILE = load_profile("ihd")
"""Activated by the OTA server's "upgrade now" (its route is local: no GBCS command)."""


@pytest.fixture(scope="module")
def herdsman() -> None:
    done = subprocess.run(
        [str(INSTALL)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=INSTALL_LIMIT_S,
        check=False,
    )
    if done.returncode == NO_NODE:
        pytest.skip(done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, done.stderr


def _spec() -> DeviceSpec:
    return DeviceSpec(
        name="ihd",
        zigbee=PROFILE.zigbee,
        policy=PROFILE.ota,
        profile=PROFILE,
        route=Route.LOCAL,
        ieee=IEEE,
    )


async def _run(image: pathlib.Path, version: int) -> tuple[int, str, str, NcpHome]:
    home = NcpHome([_spec()], version=version, seed=1)
    server = NcpServer(home, port=0)
    port = await server.start()
    try:
        node = await asyncio.create_subprocess_exec(
            "node",
            str(OTA_SCRIPT),
            "--port",
            str(port),
            "--image",
            str(image),
            "--ieee",
            f"0x{IEEE:016x}",
            "--timeout",
            str(RUN_LIMIT_S),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        out, err = await asyncio.wait_for(node.communicate(), RUN_LIMIT_S + 30)
    finally:
        await server.stop()
    assert node.returncode is not None
    return node.returncode, out.decode(), err.decode(), home


@pytest.mark.parametrize("version", [13, 14, 19])  # 19: herdsman's own, no switch
def test_herdsman_interviews_the_device_and_upgrades_it_with_its_own_ota(
    herdsman, tmp_path, version
):
    z = PROFILE.zigbee
    newer = newer_image(z, size=3000, seed=11, header_string="hanemu herdsman test")
    image = tmp_path / "ihd.ota"
    image.write_bytes(newer)

    code, out, err, home = asyncio.run(_run(image, version))
    sys.stderr.write(err[-6000:])
    assert code == 0, err.strip().splitlines()[-1] if err.strip() else out
    result = json.loads(out)
    assert result["ieee"] == f"0x{IEEE:016x}"
    # herdsman's interview: node descriptor, endpoints and Basic's attributes.
    assert result["interview"] == "SUCCESSFUL"
    assert result["manufacturer_code"] == z.manufacturer_id
    (endpoint,) = result["endpoints"]
    assert endpoint["profile"] == "0x0109"  # its own simple descriptor: Smart Energy
    assert 0x0019 in endpoint["output_clusters"]
    # herdsman's OTA: the device asked at its running version and switched to the file's.
    assert result["from_file_version"] == z.firmware_version
    assert result["to_file_version"] == z.firmware_version + 1
    device = home.device("ihd").device
    assert device.flash.running == newer
    assert device.flash.running_version == z.firmware_version + 1


def _ota_script(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(OTA_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ([], "--port is required"),
        (["--port", "x", "--image", "f"], "--port needs a whole number from 1 to 65535, not 'x'"),
        (["--port=1", "--image"], "--image needs a value"),
        (["--port", "1", "--image", "f", "--bogus"], "unknown argument '--bogus'"),
        (
            ["--port", "1", "--image", "f", "--ieee", "0x12"],
            "--ieee needs an EUI-64 (0x + 16 hex digits), not '0x12'",
        ),
    ],
)
def test_bad_usage_is_one_line(herdsman, args, error):
    done = _ota_script(*args)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"herdsman-ota: error: {error} (see --help)\n"


def test_no_ncp_listening_is_one_line_at_once(herdsman, tmp_path):
    """Herdsman fails its start on ECONNREFUSED (herdsman-ember.md §1): said, not waited out."""
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    image = tmp_path / "x.ota"
    image.write_bytes(b"x")
    done = _ota_script("--port", str(port), "--image", str(image))
    assert (done.returncode, done.stdout) == (1, "")
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"herdsman-ota: error: starting the ember adapter on tcp://127.0.0.1:{port}: "
        "Failed to start EZSP layer with status=HOST_FATAL_ERROR."
    )


def test_install_script_says_node_is_missing():
    """Exit 77 and one line, which the tests above skip with."""
    bash = shutil.which("bash") or "/bin/bash"
    done = subprocess.run(
        [bash, str(INSTALL)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/nonexistent", "HOME": "/nonexistent"},
    )
    assert done.returncode == NO_NODE
    assert done.stderr == (
        "install-herdsman: node is not on PATH (zigbee-herdsman needs Node.js >= 20 with npm)\n"
    )
