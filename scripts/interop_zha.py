"""ZHA (PyPI `zha`, Home Assistant's Zigbee library) drives an emulated device on hanemu's
virtual radio: it configures the device and installs a newer image through its firmware update
entity. Run by `scripts/interop-zha`, inside the venv that script makes (zha needs Python 3.12+).

ZHA picks its radio from a fixed enum, so a `Gateway` subclass hands it hanemu's virtual
`ControllerApplication` (attached to a `VirtualNetwork`) instead. zigpy's local-folder OTA
provider serves the image; an emulated IHD joins; ZHA interviews and configures it (bindings,
reporting, attribute reads: what `emulator/radio/zigpy_node.py` answers); the device's Query
Next Image makes zigpy look the image up and ZHA's update entity show it; `async_install` runs
zigpy's `update_firmware`. The running image must then equal the file, byte for byte.

Prints one JSON object (what happened, the general commands ZHA sent) and exits 0 when the
install succeeded, 1 when it did not. Deterministic in virtual time (the default); `--realtime`
runs on the wall clock.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import pathlib
import random
import sys
import tempfile
import time
from typing import Any

import zigpy.config
import zigpy.types as t
from zha.application import const as zha_const
from zha.application.gateway import DevicePairingStatus, Gateway
from zha.application.helpers import (
    CoordinatorConfiguration,
    QuirksConfiguration,
    ZHAConfiguration,
    ZHAData,
)
from zha.application.platforms.update import FirmwareUpdateEntity
from zigpy.zcl import foundation

from emulator.clock import RealClock
from emulator.device.emulated import EmulatedDevice
from emulator.device.hub import HUB_DESCRIPTOR
from emulator.ota.image import build_image
from emulator.profiles import ZigbeeIdentity, load_profile
from emulator.radio import timeloop, virtual
from emulator.radio.zigpy_node import ZigpyNode

PROFILE = "ihd"
"""A device the OTA server's "upgrade now" activates (its class needs no GBCS command)."""
HA_PROFILE = 0x0104
POWER_CONFIGURATION = 0x0001
LIMIT_S = 3600.0
"""How long (loop time) to wait for each step before giving up."""


def gateway_class(network: virtual.VirtualNetwork, zigpy_config: dict[str, Any]) -> type[Gateway]:
    """A ZHA `Gateway` whose radio is hanemu's virtual one, on `network`."""

    class App(virtual.VirtualControllerApplication):
        def __init__(self, config: dict[str, Any]) -> None:
            super().__init__(config)
            self.network, network.app = network, self

    class HanemuGateway(Gateway):
        def get_application_controller_data(self) -> tuple[type, dict[str, Any]]:
            return App, zigpy_config

    return HanemuGateway


def zigpy_config(folder: pathlib.Path) -> dict[str, Any]:
    config = virtual.VirtualControllerApplication.default_config(extra_endpoints=[HUB_DESCRIPTOR])
    config[zigpy.config.CONF_OTA][zigpy.config.CONF_OTA_EXTRA_PROVIDERS] = [
        {
            "type": "advanced",
            "path": str(folder),
            "warning": zigpy.config.CONF_OTA_ALLOW_ADVANCED_DIR_STRING,
        }
    ]
    return config


def identity() -> ZigbeeIdentity:
    """The IHD's Zigbee identity on the Home Automation profile (0x0104): ZHA 2.3 makes entities
    (the firmware update entity among them) only for endpoints on the HA or ZLL profile, so on
    Smart Energy (0x0109), every GB device's profile, it would configure nothing and offer no
    update."""
    z = load_profile(PROFILE).zigbee
    (endpoint,) = z.endpoints
    # A battery-powered IHD's Power Configuration server: ZHA binds it and configures reporting
    # on it, as it does on every battery device (the node has none of its battery attributes,
    # and says so record by record, as a device without them would).
    powered = dataclasses.replace(
        endpoint, input_clusters=(*endpoint.input_clusters, POWER_CONFIGURATION)
    )
    return dataclasses.replace(z, profile_id=HA_PROFILE, endpoints=(powered,))


def join(network: virtual.VirtualNetwork, seed: int) -> ZigpyNode:
    """An emulated IHD joins the network (Device_annce) and powers on."""
    profile = load_profile(PROFILE)
    z = identity()
    clock = RealClock(asyncio.get_running_loop())
    running = build_image(
        b"running",
        manufacturer_id=z.manufacturer_id,
        image_type=z.image_type,
        file_version=z.firmware_version,
    )
    device = EmulatedDevice(
        name="ihd",
        clock=clock,
        nwk=0x4F2A,
        ieee=0x0011223344556677,
        zigbee=z,
        running_image=running,
        policy=profile.ota,
        rng=random.Random(seed),
    )
    node = ZigpyNode(
        device,
        transmit=network.to_coordinator,
        clock=clock,
        rng=random.Random(seed + 1),
        model="hanemu IHD",
    )
    device.port = node
    network.attach(node)
    node.announce()
    device.power_on()
    return node


def update_entity(zha_device: Any) -> FirmwareUpdateEntity:
    (entity,) = [
        e for e in zha_device.platform_entities.values() if isinstance(e, FirmwareUpdateEntity)
    ]
    return entity


async def until(condition: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LIMIT_S
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"{what}: not within {LIMIT_S:.0f} s")
        await asyncio.sleep(0.5)


def general_commands(air: list[t.ZigbeePacket], nwk: int) -> dict[str, int]:
    """What the coordinator sent the device, by (cluster, command name), and ZDO requests."""
    seen: collections.Counter[str] = collections.Counter()
    for packet in air:
        if packet.dst is None or packet.dst.address != nwk:
            continue
        data = packet.data.serialize()
        if packet.dst_ep == 0:
            seen[f"ZDO 0x{packet.cluster_id:04X}"] += 1
            continue
        try:
            hdr, _ = foundation.ZCLHeader.deserialize(data)
        except (ValueError, KeyError):
            continue
        if hdr.frame_control.is_general:
            name = foundation.GeneralCommand(hdr.command_id).name
        else:
            name = f"cluster command 0x{hdr.command_id:02X}"
        seen[f"0x{packet.cluster_id:04X} {name}"] += 1
    return dict(sorted(seen.items()))


async def run(folder: pathlib.Path, newer: bytes, seed: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    network = virtual.VirtualNetwork()
    air: list[t.ZigbeePacket] = []
    network.captures.append(lambda packet, _now: air.append(packet))
    data = ZHAData(
        config=ZHAConfiguration(
            coordinator_configuration=CoordinatorConfiguration(path="virtual://"),
            quirks_configuration=QuirksConfiguration(enabled=False),
        ),
        zigpy_config=zigpy_config(folder),
    )
    gateway = await gateway_class(network, data.zigpy_config).async_from_config(data)
    configured: list[Any] = []
    gateway.on_event(
        zha_const.ZHA_GW_MSG_DEVICE_FULL_INIT,
        lambda event: (
            configured.append(event)
            if event.device_info.pairing_status == DevicePairingStatus.CONFIGURED
            else None
        ),
    )
    report: dict[str, Any] = {"zha_device_configured": False, "installed": False}
    try:
        await gateway.async_initialize()
        await gateway.async_initialize_devices_and_entities()
        node = join(network, seed)
        ieee = t.EUI64(node.ieee)
        await until(lambda: configured, "ZHA's device configuration")
        report["zha_device_configured"] = True
        report["configured_at_s"] = round(loop.time(), 3)
        zha_device = gateway.get_device(ieee)
        entity = update_entity(zha_device)
        await until(lambda: entity.latest_version is not None, "the update entity's offer")
        report["offered"] = {
            "installed_version": entity.installed_version,
            "latest_version": entity.latest_version,
        }
        await entity.async_install(version=None)
        await until(
            lambda: (
                node.device.flash.running_version != load_profile(PROFILE).zigbee.firmware_version
            ),
            "activation",
        )
        report["installed"] = node.device.flash.running == newer
        report["installed_at_s"] = round(loop.time(), 3)
        report["running_version"] = f"0x{node.device.flash.running_version:08x}"
        # zigpy interviews the device again after an update; ZHA then rebuilds and configures it.
        await until(lambda: len(configured) >= 2, "ZHA's configuration after the update")
        report["reconfigured_at_s"] = round(loop.time(), 3)
        report["entity_installed_version"] = update_entity(
            gateway.get_device(ieee)
        ).installed_version
        report["zha_sent"] = general_commands(air, node.nwk)
    finally:
        await gateway.shutdown()
    return report


class _OneLineErrors(argparse.ArgumentParser):
    """Bad usage in one line, as every hanemu command says it (argparse adds the usage)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _OneLineErrors(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--realtime", action="store_true", help="run on the wall clock")
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the image bytes and the device's randomness"
    )
    args = parser.parse_args(argv)
    z = load_profile(PROFILE).zigbee
    newer = build_image(
        random.Random(args.seed).randbytes(8192),
        manufacturer_id=z.manufacturer_id,
        image_type=z.image_type,
        file_version=z.firmware_version + 1,
        header_string="hanemu ZHA interop",
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        (pathlib.Path(folder) / "ihd.ota").write_bytes(newer)
        try:
            report = timeloop.run(
                run(pathlib.Path(folder), newer, args.seed), realtime=args.realtime
            )
        except Exception as exc:  # the peer is real software: say what failed, in one line
            report = {"installed": False, "error": f"{type(exc).__name__}: {exc}"}
    report["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=2))
    return 0 if report.get("installed") else 1


if __name__ == "__main__":
    sys.exit(main())
