"""The zigpy air: a real zigpy coordinator on hanemu's in-process radio.

The Comms Hub is the coordinator (`emulator.radio.virtual`): its Smart Energy endpoint carries the
hub's OTA server and tunnel, or, with `zigpy_server`, zigpy's own `update_firmware` serves the
devices. Each device is a `ZigpyNode` on the `VirtualNetwork`: it joins with Device_annce, is
interviewed by zigpy, discovers the hub with Match_Desc and talks ZCL in real Zigbee packets,
which a capture (a `PcapWriter`, owned by the caller) records. The scenario's faults apply to
OTA frames.

`ZigpyAir` is also the hub's code for every zigpy `ControllerApplication` that hosts it: the NCP
air and the dongle air (`radio/ezsp_air.py`) run the same hub on stock bellows by replacing how
the application starts (`_start_app`) and how a device reaches the air (`attach`, `join`).

With `zigpy_server`, what zigpy's `update_firmware` comes to for each device (its status, the
exception it raised, or nothing yet) is kept in `zigpy_updates`, for the fuzz target that tries
misbehaving clients on it (`hanemu fuzz --target zigpy-server`).

This module owns wiring the hub and devices onto zigpy; it never decides what either does and
never reads wall time.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import zigpy.types as t
from zigpy.ota import OtaImageWithMetadata
from zigpy.ota.image import BaseOTAImage, OTAImageHeader
from zigpy.ota.providers import BaseOtaImageMetadata

from emulator.clock import Clock
from emulator.device.campaign import at_time
from emulator.device.emulated import EmulatedDevice
from emulator.device.hub import HUB_DESCRIPTOR, HUB_ENDPOINT, CommsHub
from emulator.device.tunnel import TUNNELING_CLUSTER
from emulator.ota.link import LinkPolicy
from emulator.profiles import OTA_CLUSTER, SMART_ENERGY_PROFILE
from emulator.radio import virtual
from emulator.radio.air import refuse
from emulator.radio.virtual import Capture, VirtualNetwork
from emulator.radio.zigpy_node import ZigpyNode

HAN_NODE_ENDPOINT = 1
"""The endpoint another HAN node (the ESME, a rogue node) sends from."""


class RawFirmware(BaseOTAImage):
    """An OTA file as zigpy's OTA code serves it: its header and its bytes as they are (zigpy's
    own `OTAImage` re-serialises a tag walk, which a GB image does not have)."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.header, _ = OTAImageHeader.deserialize(self.data)

    @classmethod
    def deserialize(cls, data: bytes) -> tuple[RawFirmware, bytes]:
        return cls(data), b""

    def serialize(self) -> bytes:
        return self.data


@dataclass(slots=True)
class ZigpyUpdate:
    """One call of zigpy's `update_firmware` for a device."""

    nwk: int
    started_at: float
    result: str | None = None
    """zigpy's answer: the status it returned (its name, e.g. "SUCCESS", "TIMEOUT"), "raised
    <type>: <message>", or None while it has not returned (a run may end before it does)."""
    ended_at: float | None = None


class ZigpyAir:
    """A zigpy network with the hub as coordinator and emulated devices as nodes."""

    name = "zigpy"
    runs_to_duration = False

    def __init__(
        self,
        *,
        clock: Clock,
        rng: random.Random,
        faults: LinkPolicy,
        pcap: Capture | None = None,
        zigpy_server: bool = False,
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.zigpy_server = zigpy_server
        ota_faults = LinkPolicy(
            drop=faults.drop,
            duplicate=faults.duplicate,
            reorder=faults.reorder,
            corrupt=faults.corrupt,
            latency_s=0.0,
            jitter_s=0.0,
        )
        self.net = VirtualNetwork(faults=ota_faults, rng=random.Random(rng.getrandbits(64)))
        if pcap is not None:
            self.net.captures.append(pcap)
        self.net.on_oversize = self._oversize
        self.nodes: dict[int, ZigpyNode] = {}
        self._tasks: set[asyncio.Task] = set()
        self._aps = 0
        """APS counter of the frames other HAN nodes (ESME, rogue) send through this air."""
        self.app: Any = None
        self.zigpy_updates: list[ZigpyUpdate] = []
        """Every `update_firmware` zigpy ran (with `zigpy_server`), in order."""

    @property
    def frames(self) -> int:
        return self.net.frames

    async def start(self, hub: CommsHub) -> None:
        self.hub = hub
        self.app = app = await self._start_app()
        if not self.zigpy_server:  # otherwise zigpy's own OTA code answers the devices
            app.serve(HUB_ENDPOINT, OTA_CLUSTER, self._ota_at_hub)
        app.serve(HUB_ENDPOINT, TUNNELING_CLUSTER, self._tunnel_at_hub)

    async def _start_app(self) -> Any:
        """The coordinator, formed and running, with the hub's endpoint (`HUB_DESCRIPTOR`)."""
        return await virtual.start(self.net, extra_endpoints=[HUB_DESCRIPTOR])

    def _ota_at_hub(self, packet: t.ZigbeePacket) -> None:
        broadcast = packet.dst.addr_mode != t.AddrMode.NWK
        self.hub.ota_received(
            packet.src.address,
            packet.data.serialize(),
            broadcast=broadcast,
            endpoint=packet.src_ep,
        )

    def _tunnel_at_hub(self, packet: t.ZigbeePacket) -> None:
        self.hub.tunnel_received(
            packet.src.address, packet.data.serialize(), endpoint=packet.src_ep
        )

    def hub_send(self, nwk: int, cluster: int, data: bytes, endpoint: int | None) -> None:
        node = self.nodes.get(nwk)
        device = self.app.devices.get(node.ieee) if node is not None else None
        if node is None or device is None:
            return
        self._spawn(
            self.app.send_zcl(
                device,
                src_ep=HUB_ENDPOINT,
                dst_ep=endpoint or node.ota_endpoint,
                cluster=cluster,
                data=data,
            )
        )

    def node_send(self, src: int, nwk: int, cluster: int, data: bytes) -> None:
        node = self.nodes.get(nwk)
        if node is None:
            return
        self._aps = (self._aps + 1) & 0xFF
        self.net.between_nodes(
            t.ZigbeePacket(
                timestamp=at_time(self.clock.now),
                src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(src)),
                src_ep=HAN_NODE_ENDPOINT,
                dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(nwk)),
                dst_ep=node.endpoint_for(cluster),
                tsn=self._aps,
                profile_id=SMART_ENERGY_PROFILE,
                cluster_id=cluster,
                data=t.SerializableBytes(data),
                lqi=255,
                rssi=-40,
            )
        )

    def _spawn(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # a delivery failure is the air's business; the server retries

    def attach(self, device: EmulatedDevice, *, model: str) -> None:
        node = self._node(device, model)
        device.port = node
        self.net.attach(node, security=device.zigbee.security, hops=device.hops)

    def _node(self, device: EmulatedDevice, model: str) -> ZigpyNode:
        """The device's face on this air."""
        node = ZigpyNode(
            device,
            transmit=self.net.to_coordinator,
            clock=self.clock,
            rng=random.Random(self.rng.getrandbits(64)),
            model=model,
        )
        self.nodes[device.nwk] = node
        return node

    def _oversize(self, nwk: int, packet: t.ZigbeePacket, reason: str) -> None:
        node = self.nodes.get(nwk)
        if node is not None:
            sender = "device" if packet.src is not None and packet.src.address == nwk else "hub"
            refuse(node.device, reason, cluster=packet.cluster_id, sender=sender)

    def join(self, device: EmulatedDevice) -> None:
        self.nodes[device.nwk].announce()  # a joining node announces itself before it talks
        device.power_on()

    def offer(self, device: EmulatedDevice, image: bytes) -> None:
        if self.zigpy_server:
            self._spawn(self._zigpy_update(self.nodes[device.nwk], image))
        else:
            self.hub.offer(device.nwk, image)

    async def _zigpy_update(self, node: ZigpyNode, data: bytes) -> Any:
        """zigpy's stock `update_firmware` (its OTAManager) serves the device."""
        device = None
        while device is None or not device.is_initialized:
            await asyncio.sleep(1.0)
            device = self.app.devices.get(node.ieee)
        firmware = RawFirmware(data)
        header = firmware.header
        image = OtaImageWithMetadata(
            metadata=BaseOtaImageMetadata(
                file_version=header.file_version,
                manufacturer_id=header.manufacturer_id,
                image_type=header.image_type,
            ),
            firmware=firmware,
        )
        update = ZigpyUpdate(node.nwk, self.clock.now)
        self.zigpy_updates.append(update)
        try:
            status = await device.update_firmware(image)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # zigpy's own failure: kept as what zigpy did, then raised
            update.result, update.ended_at = f"raised {type(exc).__name__}: {exc}", self.clock.now
            raise
        update.result = getattr(status, "name", None) or repr(status)
        update.ended_at = self.clock.now
        return status

    def real_devices(self) -> list[dict[str, Any]] | None:
        """None: every device on this air is emulated (`EzspAir` adds a dongle's)."""
        return None

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.app is not None:
            await self.app.shutdown()
