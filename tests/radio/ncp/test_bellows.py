"""Stock bellows (1.2.1) against hanemu's emulated NCP over `socket://` on loopback.

Each run starts the NCP server with two emulated devices behind it (an IHD, which the OTA
server's "upgrade now" activates, and a PPMID), connects bellows' own `ControllerApplication`,
which forms the network, then connects it again (the network resumes from the NCP's NVRAM and
bellows registers its endpoints, as after a restart of ZHA), opens the network, waits for zigpy
to interview both devices and upgrades the IHD with zigpy's `update_firmware`. The whole run is
in virtual time (`radio.timeloop`): the sockets are real, zigpy's sleeps and timeouts are not.
"""

from __future__ import annotations

import asyncio

import pytest
from bellows.zigbee.application import ControllerApplication
from wire import newer_image
from zigpy.ota import OtaImageWithMetadata
from zigpy.ota.providers import BaseOtaImageMetadata
from zigpy.zcl import foundation

from emulator.profiles import load_profile
from emulator.radio import ezsp_air, timeloop
from emulator.radio.ncp.server import NcpHome, NcpServer
from emulator.radio.zigpy_air import RawFirmware
from emulator.scenario import profile_device


def bellows_config(port: int) -> dict:
    """bellows as ZHA would run it, with the Comms Hub's SE endpoint (its OTA server): the
    configuration the `ncp` and `ezsp:` radios use."""
    return ezsp_air.bellows_config(f"socket://127.0.0.1:{port}")


def zigpy_image(data: bytes) -> OtaImageWithMetadata:
    firmware = RawFirmware(data)
    header = firmware.header
    return OtaImageWithMetadata(
        metadata=BaseOtaImageMetadata(
            file_version=header.file_version,
            manufacturer_id=header.manufacturer_id,
            image_type=header.image_type,
        ),
        firmware=firmware,
    )


async def interviewed(app, ieees, limit=120):
    for _ in range(limit):
        devices = [app.devices.get(ieee) for ieee in ieees]
        if all(d is not None and d.is_initialized for d in devices):
            return devices
        await asyncio.sleep(1)
    raise AssertionError("the devices were never interviewed")


@pytest.mark.parametrize("version", [8, 13, 19])
def test_stock_bellows_forms_interviews_and_upgrades(version):
    specs = [
        profile_device("ihd", load_profile("ihd"), route="local"),
        profile_device("ppmid", load_profile("ppmid-opt1")),
    ]

    async def main():
        home = NcpHome(specs, version=version, seed=1)
        server = NcpServer(home, port=0)
        port = await server.start()
        config = bellows_config(port)
        try:
            app = await ControllerApplication.new(config, auto_form=True)  # forms
            formed = home.ncp.network is not None
            await app.shutdown()
            app = await ControllerApplication.new(config, auto_form=False)  # resumes
            negotiated = app._ezsp.ezsp_version
            await app.permit(60)
            devices = await interviewed(app, [d.node.ieee for d in home.devices])
            ihd = home.device("ihd")
            z = ihd.spec.zigbee
            data = newer_image(z, size=3000, seed=3, header_string="hanemu over EZSP")
            status = await app.devices[ihd.node.ieee].update_firmware(zigpy_image(data))
            await app.shutdown()
        finally:
            await server.stop()
        return home, server, formed, negotiated, devices, status, data

    home, server, formed, negotiated, devices, status, data = timeloop.run(main())
    assert formed and negotiated == version
    assert server.connections == 2
    assert [d.model for d in devices] == ["IHD ihd", "PPMID ppmid-opt1"]
    assert all(d.nwk == h.device.nwk for d, h in zip(devices, home.devices, strict=True))
    assert status == foundation.Status.SUCCESS
    ihd = home.device("ihd").device
    assert ihd.flash.running == data
    assert ihd.flash.running_version == home.device("ihd").spec.zigbee.firmware_version + 1
    assert home.ncp.counters.invalid == 0
