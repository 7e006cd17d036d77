"""Acceptance 5 of the EZSP issue: the dongle code path (`--radio ezsp:socket://HOST:PORT`) in CI
with no hardware. hanemu's emulated NCP, in a thread with its own loop and an IHD behind it,
plays the network-attached dongle and the "real" device that joins it; `hanemu home run` puts the
Comms Hub on stock bellows with that dongle, beside the home's own in-process IHD. The real IHD
joins, is told of the campaign's image and served it by hanemu's OTA server (the running image
is byte-identical to the campaign's), and the summary marks it real. Wall-clock time: the home
lasts its `duration`."""

from __future__ import annotations

import asyncio
import json
import threading

from click.testing import CliRunner

from emulator.cli import cli
from emulator.device.campaign import profile_image
from emulator.profiles import load_profile
from emulator.radio.ncp.server import NcpHome, NcpServer
from emulator.scenario import profile_device

IHD = load_profile("ihd-opt1")
NEW_VERSION = IHD.zigbee.firmware_version + 0x10
SIZE = 4096


class Dongle(threading.Thread):
    """hanemu's NCP on an ephemeral loopback port, in real time on its own loop."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.ready = threading.Event()
        self.spec = profile_device("meter-ihd", IHD, route="local")

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.done = asyncio.Event()
        self.home = NcpHome([self.spec], seed=7)
        self.server = NcpServer(self.home, port=0)
        self.port = await self.server.start()
        self.ready.set()
        await self.done.wait()
        await self.server.stop()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.done.set)
        self.join(10)


def test_home_with_a_network_dongle_serves_its_real_device_beside_the_emulated_one(tmp_path):
    dongle = Dongle()
    dongle.start()
    assert dongle.ready.wait(10)
    home = tmp_path / "hybrid.toml"
    home.write_text(
        f"""
[home]
name = "hybrid"
radio = "ezsp:socket://127.0.0.1:{dongle.port}"
duration = 20

[[device]]
name = "ihd"
profile = "ihd-opt1"
route = "dcc"

[[campaign]]
device = "*"
build = {{ file_version = {NEW_VERSION}, size = {SIZE} }}
at = 1
"""
    )
    try:
        report_path = tmp_path / "report.json"
        result = CliRunner().invoke(cli, ["home", "run", str(home), "--report", str(report_path)])
    finally:
        dongle.stop()
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["radio"] == f"ezsp:socket://127.0.0.1:{dongle.port}"
    real_ihd = dongle.home.devices[0]
    [seen] = report["real_devices"]
    assert seen["real"] is True and seen["name"] == f"real-{real_ihd.node.ieee}"
    assert seen["nwk"] == f"0x{real_ihd.device.nwk:04X}"
    assert seen["upgrade_end"] == [{"status": "SUCCESS", "file_version": f"0x{NEW_VERSION:08X}"}]
    image = profile_image(IHD, file_version=NEW_VERSION, size=SIZE)
    assert seen["bytes_served"] == len(image) and seen["blocks_served"] >= len(image) // 56
    assert real_ihd.device.flash.running == image  # served by hanemu's OTA server, byte for byte
    [emulated] = report["devices"]  # the home's own IHD, in process: downloaded the same image
    assert emulated["name"] == "ihd" and emulated["bytes"] == len(image)
    summary = result.stdout
    assert f"real-{real_ihd.node.ieee}" in summary and "(real)" in summary
    assert "upgrade end SUCCESS" in summary
