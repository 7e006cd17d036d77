"""zigpy's own OTA provider (a local folder, zigpy's "advanced" provider) against an emulated
device on hanemu's virtual radio: the provider matches the device's Query Next Image, and
zigpy's `update_firmware` installs the image it offers.

zigpy 2.4 never answers a query with an image by itself: its Ota cluster answers every Query Next
Image NO_IMAGE_AVAILABLE, then looks the query up in its providers and emits
`ota_image_available`; an application (ZHA's install button) then calls `update_firmware`. This
test is that application. No part of zigpy is replaced: the provider reads the folder on an
executor thread under zigpy's fetch timeout, which virtual time waits for.
"""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import zigpy.config
from wire import newer_image
from zigpy.zcl import OtaImageAvailableEvent, foundation

from emulator.device.hub import HUB_DESCRIPTOR
from emulator.ota.image import build_image
from emulator.profiles import load_profile
from emulator.radio import timeloop, virtual
from tests.radio.test_virtual_radio import _initialized, _node, _outcome

PROFILE = load_profile("ihd")  # activated by the OTA server's "upgrade now" (no GBCS command)


async def _start(folder: pathlib.Path) -> tuple[virtual.VirtualControllerApplication, Any]:
    net = virtual.VirtualNetwork()
    config = virtual.VirtualControllerApplication.default_config(extra_endpoints=[HUB_DESCRIPTOR])
    config[zigpy.config.CONF_OTA][zigpy.config.CONF_OTA_EXTRA_PROVIDERS] = [
        {
            "type": "advanced",
            "path": str(folder),
            "warning": zigpy.config.CONF_OTA_ALLOW_ADVANCED_DIR_STRING,
        }
    ]
    app = virtual.VirtualControllerApplication(config)
    app.network, net.app = net, app
    await app.startup(auto_form=True)
    return app, net


def test_local_folder_provider_matches_the_query_and_update_firmware_installs_it(tmp_path):
    z = PROFILE.zigbee
    newer = newer_image(z, size=4000, seed=3, header_string="hanemu provider test")
    other = build_image(b"not for it", manufacturer_id=0x4242, image_type=1, file_version=9)
    (tmp_path / "ihd.ota").write_bytes(newer)
    (tmp_path / "other.ota").write_bytes(other)

    async def main():
        app, net = await _start(tmp_path)
        node = _node(net, z, PROFILE.ota)
        device = await _initialized(app, node.ieee)
        ota = device.endpoints[1].out_clusters[0x0019]
        offered: asyncio.Future[OtaImageAvailableEvent] = asyncio.get_running_loop().create_future()
        ota.on_event(
            OtaImageAvailableEvent.event_type,
            lambda event: offered.done() or offered.set_result(event),
        )
        event = await offered  # the device queried, zigpy said NO_IMAGE_AVAILABLE and looked
        (image,) = event.images_result.upgrades
        status = await device.update_firmware(image)
        await app.shutdown()
        return event, image, status, node

    event, image, status, node = timeloop.run(main())
    assert event.query_cmd.manufacturer_code == z.manufacturer_id
    assert event.query_cmd.image_type == z.image_type
    assert event.query_cmd.current_file_version == z.firmware_version
    assert image.version == z.firmware_version + 1
    assert status == foundation.Status.SUCCESS
    assert _outcome(node) == "activated"
    assert node.device.flash.running == newer
    assert node.device.flash.running_version == z.firmware_version + 1
