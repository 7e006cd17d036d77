"""The virtual radio against the real zigpy stack: interview, Smart Energy parsing, and both OTA
servers (zigpy's stock `update_firmware` for a Home Automation device, hanemu's for an SE one)."""

from __future__ import annotations

import asyncio
import random

import zigpy.types as t
from zigpy.ota import OtaImageWithMetadata
from zigpy.ota.image import parse_ota_image
from zigpy.ota.providers import BaseOtaImageMetadata
from zigpy.zcl import foundation

from emulator.clock import RealClock
from emulator.device.emulated import EmulatedDevice
from emulator.device.hub import HUB_DESCRIPTOR, HUB_ENDPOINT, CommsHub
from emulator.ota.image import build_image
from emulator.ota.policy import ClientPolicy
from emulator.ota.server import ImageStore, OtaServer
from emulator.profiles import Endpoint, ZigbeeIdentity, load_profile
from emulator.radio import timeloop, virtual
from emulator.radio.zigpy_node import ZigpyNode

HA_DEVICE = ZigbeeIdentity(
    profile_id=0x0104,
    device_id=0x0051,
    manufacturer_id=0x1234,
    image_type=0x0001,
    hardware_version=0x0001,
    firmware_version=0x00000001,
    node_type="router",
    sleepy=False,
    endpoints=(Endpoint(1, (0x0000, 0x0003), (0x0019,)),),
)
PAYLOAD = random.Random(7).randbytes(3000)


def _node(net, identity, policy=None, *, nwk=0x4F2A, ieee=0x0011223344556677):
    loop = asyncio.get_running_loop()
    running = build_image(
        b"running",
        manufacturer_id=identity.manufacturer_id,
        image_type=identity.image_type,
        file_version=identity.firmware_version,
    )
    clock = RealClock(loop)
    device = EmulatedDevice(
        name="test",
        clock=clock,
        nwk=nwk,
        ieee=ieee,
        zigbee=identity,
        running_image=running,
        policy=policy or ClientPolicy(start_delay_max_s=5),
        rng=random.Random(1),
    )
    node = ZigpyNode(
        device,
        transmit=net.to_coordinator,
        clock=clock,
        rng=random.Random(2),
        model="test model",
    )
    device.port = node
    net.attach(node)
    device.power_on()
    node.announce()
    return node


def _outcome(node: ZigpyNode) -> str | None:
    said = node.device.client_outcome
    return None if said is None else said[0]


async def _initialized(app, ieee, limit=600):
    for _ in range(limit):
        device = app.devices.get(ieee)
        if device is not None and device.is_initialized:
            return device
        await asyncio.sleep(1)
    raise AssertionError("device never initialised")


def test_zigpy_update_firmware_upgrades_an_emulated_ha_device():
    """zigpy's own OTAManager (stock `update_firmware`) against the emulated client."""
    data = build_image(PAYLOAD, manufacturer_id=0x1234, image_type=0x0001, file_version=2)

    async def main():
        net = virtual.VirtualNetwork()
        app = await virtual.start(net)
        node = _node(net, HA_DEVICE)
        device = await _initialized(app, node.ieee)
        assert device.model == "test model"
        firmware, _ = parse_ota_image(data)
        image = OtaImageWithMetadata(
            metadata=BaseOtaImageMetadata(file_version=2, manufacturer_id=0x1234, image_type=1),
            firmware=firmware,
        )
        status = await device.update_firmware(image)
        # zigpy read the new version back after the device rebooted into it.
        ota = device.endpoints[1].out_clusters[0x0019]
        version = ota.get("current_file_version")
        await app.shutdown()
        return status, node, version

    status, node, version = timeloop.run(main())
    assert status == foundation.Status.SUCCESS
    assert _outcome(node) == "activated"
    assert node.device.flash.running == data
    assert node.device.flash.running_version == 2 == version
    assert node.device.stats.bytes == len(data)


def test_hanemu_server_upgrades_an_se_device_zigpy_interviewed():
    """An SE-profile (0x0109) device joins, zigpy interviews it, and the Comms Hub's hanemu
    server upgrades it; every frame the device sends keeps profile 0x0109."""
    profile = load_profile("ihd")
    zi = profile.zigbee
    data = build_image(
        PAYLOAD,
        manufacturer_id=zi.manufacturer_id,
        image_type=zi.image_type,
        file_version=zi.firmware_version + 1,
    )
    seen: list[t.ZigbeePacket] = []

    async def main():
        loop = asyncio.get_running_loop()
        net = virtual.VirtualNetwork()
        net.captures.append(lambda packet, _now: seen.append(packet))
        app = await virtual.start(net, extra_endpoints=[HUB_DESCRIPTOR])
        store = ImageStore()
        store.add(data)
        nodes: dict[int, ZigpyNode] = {}
        tasks: list[asyncio.Task] = []

        def send(nwk, cluster, data, endpoint):
            target = app.devices.get(nodes[nwk].ieee)
            tasks.append(
                loop.create_task(
                    app.send_zcl(
                        target,
                        src_ep=HUB_ENDPOINT,
                        dst_ep=endpoint or 1,
                        cluster=cluster,
                        data=data,
                    )
                )
            )

        hub = CommsHub(OtaServer(store), RealClock(loop), send)
        app.serve(
            HUB_ENDPOINT,
            0x0019,
            lambda p: hub.ota_received(
                p.src.address,
                p.data.serialize(),
                broadcast=p.dst.addr_mode != t.AddrMode.NWK,
                endpoint=p.src_ep,
            ),
        )
        node = _node(net, zi, profile.ota)
        nodes[node.nwk] = node
        device = await _initialized(app, node.ieee)
        while _outcome(node) != "activated" and loop.time() < 7200:
            await asyncio.sleep(1)
        await app.shutdown()
        return device, node

    device, node = timeloop.run(main())
    assert isinstance(device, virtual.SmartEnergyDevice)
    assert device.model == "test model" and device.endpoints[1].profile_id == 0x0109
    assert _outcome(node) == "activated" and node.device.flash.running == data
    assert node.server_endpoint == HUB_DESCRIPTOR["endpoint"]
    from_device = [p for p in seen if p.src.address == node.nwk and p.src_ep != 0]
    assert from_device and {p.profile_id for p in from_device} == {0x0109}
    to_device = [p for p in seen if p.src.address == 0x0000 and p.cluster_id == 0x0019]
    assert to_device and {p.profile_id for p in to_device} == {0x0109}


def test_stock_zigpy_device_ignores_smart_energy_frames():
    """Why the coordinator needs SmartEnergyDevice: zigpy's own device drops 0x0109 ZCL."""
    from zigpy.device import Device as ZigbeeDevice

    packet = t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1234),
        src_ep=1,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000),
        dst_ep=1,
        tsn=1,
        profile_id=0x0109,
        cluster_id=0x0000,
        data=t.SerializableBytes(b"\x18\x05\x01\x04\x00\x00"),
    )
    assert ZigbeeDevice._parse_packet_header(None, packet) == (None, None)
    hdr, key = virtual.SmartEnergyDevice._parse_packet_header(None, packet)
    assert hdr.tsn == 5 and key.cluster_id == 0x0000


def test_registered_as_a_zigpy_radio():
    """zigpy applications find the virtual radio by name through the `zigpy.radio` entry point."""
    from importlib.metadata import entry_points

    from zigpy.application import ControllerApplication

    from emulator.radio.virtual import VirtualControllerApplication

    (entry,) = [e for e in entry_points(group="zigpy.radio") if e.name == "virtual"]
    module = entry.load()
    assert module.ControllerApplication is VirtualControllerApplication
    assert issubclass(module.ControllerApplication, ControllerApplication)
