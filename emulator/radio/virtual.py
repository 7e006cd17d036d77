"""The in-process radio: a zigpy `ControllerApplication` and the virtual air it talks through.

`VirtualNetwork` is the air. The coordinator hands it packets through
`VirtualControllerApplication.send_packet`; emulated nodes hand it packets through
`VirtualNetwork.to_coordinator`. Every delivery is scheduled on the running loop after the frame's
air time (250 kbit/s, every octet of the frame counted by `emulator.framesize`: PHY, MAC, NWK and
its security, APS and its encryption for a node's unicast Smart Energy frames, fragments for the
Tunneling cluster), never called synchronously, so a reply can never re-enter the sender. A
frame whose PSDU would be over 127 octets (`framesize.refusal`, the rule the direct air applies
too) is not delivered: the coordinator's send fails with `DeliveryError`, a node's frame is
dropped, and `on_oversize` hears of it (`oversize_frames` counts them).
Frames of the faulted clusters (by default the OTA cluster only: join, interview, discovery and
the GBCS tunnel, whose end-to-end retries hanemu does not model, stay intact) cross a seeded `Link`
that may drop, duplicate or corrupt them. Every frame that reaches the air is offered to the
captures (pcap).

`VirtualControllerApplication` is a complete zigpy radio (the 11 abstract methods) with no
hardware behind it. It also makes the coordinator speak Smart Energy, the profile (0x0109) every GB
HAN device uses and zigpy does not parse:

* zigpy decides in `ZigbeeDevice._parse_packet_header` which application profiles carry ZCL (Home
  Automation 0x0104 and ZLL 0xC05E); every other profile goes to `custom_profile_packet_received`
  and is dropped. ZCL framing does not depend on the profile, so the coordinator's device objects
  are `SmartEnergyDevice`s, a `ZigbeeDevice` subclass with no state of its own whose only change is
  that header parser: it parses 0x0109 frames as ZCL, and zigpy's pipeline (response matching,
  listeners, cluster handlers) runs unchanged. zigpy creates plain `ZigbeeDevice`s in places an
  application cannot reach (re-interview shadows, clones); the application adopts such an object
  the first time a Smart Energy frame arrives for it. Packets keep their profile: nothing rewrites
  what a device sends, and replies carry 0x0109 because zigpy takes the profile from the device's
  simple descriptor.
* zigpy's ZDO answers Match_Desc_req only for profile 0x0104. The application answers Match_Desc
  for 0x0109 itself, from the coordinator's own Smart Energy endpoints, so SE devices discover the
  Comms Hub's OTA server as they would on a real HAN.
* A Comms Hub's application endpoints (its OTA server, its Tunneling server) are not zigpy mirror
  clusters: zigpy dispatches incoming frames by the *sender's* endpoint. `serve(endpoint, cluster,
  handler)` routes frames addressed to one of the coordinator's endpoints and clusters to a handler
  before zigpy's mirror would answer them, and `send_zcl` sends raw ZCL bytes from that endpoint
  through zigpy's own `request` path.

The first and last of these are `SmartEnergyHost`, a mixin any zigpy radio's application takes
(the Comms Hub on stock bellows, `radio/ncp_air.py`, uses it); the Match_Desc answer is this
radio's alone, since an EZSP NCP's stack answers it itself.

Registered for zigpy as radio type `virtual` (device path `virtual://`). This module owns moving
packets in process; it never decides OTA or GBCS behaviour and never reads wall time.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any, Protocol

import zigpy.application
import zigpy.config
import zigpy.endpoint
import zigpy.exceptions
import zigpy.state
import zigpy.types as t
import zigpy.zdo
import zigpy.zdo.types as zdo_t
from zigpy.device import Device as ZigbeeDevice
from zigpy.device import ResponseKey
from zigpy.zcl import foundation

from emulator import framesize
from emulator.framesize import Security
from emulator.ota.link import Link, LinkPolicy
from emulator.radio.channel import Channel

SE_PROFILE_ID = 0x0109
OTA_CLUSTER = 0x0019
COORDINATOR_IEEE = t.EUI64.convert("00:0d:6f:00:00:19:8b:36")

LOGGER = logging.getLogger(__name__)


class Node(Protocol):
    """An emulated device on the air."""

    nwk: int

    def receive(self, packet: t.ZigbeePacket) -> None: ...


Capture = Callable[[t.ZigbeePacket, float], None]
Oversize = Callable[[int, t.ZigbeePacket, str], None]
"""Told (node address, packet, reason) of every frame the air refused as too big."""


def _unicast(packet: t.ZigbeePacket) -> bool:
    return packet.dst is not None and packet.dst.addr_mode in (t.AddrMode.NWK, t.AddrMode.IEEE)


def frame_security(packet: t.ZigbeePacket, node: Security) -> Security:
    """The security `packet`, to or from a node secured as `node`, carries on the air."""
    return framesize.frame_security(
        node, profile_id=packet.profile_id, cluster_id=packet.cluster_id, unicast=_unicast(packet)
    )


def frames_of(packet: t.ZigbeePacket, node: Security = framesize.SMART_ENERGY) -> tuple[int, int]:
    """(PSDU octets of each frame, frames) that carry `packet` on the air: one frame, or the
    fragments of a cluster that uses APS fragmentation (`framesize.frames`)."""
    fragmented = _unicast(packet) and packet.cluster_id in framesize.FRAGMENTED_CLUSTERS
    return framesize.frames(
        len(packet.data.serialize()), frame_security(packet, node), fragmented=fragmented
    )


class VirtualNetwork:
    """The air: delivers packets between the coordinator and attached nodes, later, never inline."""

    def __init__(
        self,
        *,
        faults: LinkPolicy | None = None,
        rng: random.Random | None = None,
        faulted_clusters: tuple[int, ...] = (OTA_CLUSTER,),
    ) -> None:
        rng = rng or random.Random(0)
        policy = faults or LinkPolicy(latency_s=0.0, jitter_s=0.0)
        self.down = Link(policy, random.Random(rng.getrandbits(64)))
        self.up = Link(policy, random.Random(rng.getrandbits(64)))
        self.app: VirtualControllerApplication | None = None
        self.nodes: dict[int, Node] = {}
        self.captures: list[Capture] = []
        self.frames = 0
        self.faulted_clusters = frozenset(faulted_clusters)
        self.security: dict[int, Security] = {}
        """Each attached node's frame security (by NWK address)."""
        self.oversize_frames = 0
        """Frames refused because they do not fit one 802.15.4 frame."""
        self.on_oversize: Oversize | None = None
        self.channel = Channel(random.Random(rng.getrandbits(64)))
        """The network's one 802.15.4 channel: every frame takes its turn on it (CSMA-CA, its
        airtime, the MAC acknowledgement), so a sender's frames stay in order and nodes
        downloading at once share it."""
        self.hops: dict[int, int] = {}
        """Radio hops between each attached node and the coordinator (1 when not said)."""

    def attach(
        self, node: Node, *, security: Security = framesize.SMART_ENERGY, hops: int = 1
    ) -> None:
        self.nodes[node.nwk] = node
        self.security[node.nwk] = security
        self.hops[node.nwk] = hops

    def detach(self, node: Node) -> None:
        self.nodes.pop(node.nwk, None)
        self.security.pop(node.nwk, None)
        self.hops.pop(node.nwk, None)

    def _refused(self, packet: t.ZigbeePacket, nwk: int) -> str | None:
        """Why `packet`, to or from node `nwk`, may not be sent (recorded), or None."""
        reason = framesize.refusal(
            packet.data.serialize(),
            self.security.get(nwk, framesize.SMART_ENERGY),
            profile_id=packet.profile_id,
            cluster_id=packet.cluster_id,
            unicast=_unicast(packet),
        )
        if reason is not None:
            self.oversize_frames += 1
            if self.on_oversize is not None:
                self.on_oversize(nwk, packet, reason)
        return reason

    def _copies(
        self, packet: t.ZigbeePacket, link: Link, nwk: int
    ) -> list[tuple[float, t.ZigbeePacket]]:
        now = asyncio.get_running_loop().time()
        psdu, frames = frames_of(packet, self.security.get(nwk, framesize.SMART_ENERGY))
        done = self.channel.send(
            now, psdu, frames=frames, unicast=_unicast(packet), hops=self.hops.get(nwk, 1)
        )
        delay = done - now
        if packet.cluster_id not in self.faulted_clusters:
            return [(delay, packet)]
        data = packet.data.serialize()
        return [
            (
                delay + extra,
                packet if out == data else packet.replace(data=t.SerializableBytes(out)),
            )
            for extra, out in link.transmit(data)
        ]

    def _capture(self, packet: t.ZigbeePacket) -> None:
        self.frames += 1
        now = asyncio.get_running_loop().time()
        for capture in self.captures:
            capture(packet, now)

    async def from_coordinator(self, packet: t.ZigbeePacket) -> None:
        loop = asyncio.get_running_loop()
        if packet.src is None:  # zigpy leaves the source of its broadcasts to the radio
            nwk = self.app.state.node_info.nwk if self.app is not None else 0x0000
            packet = packet.replace(src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=nwk))
        if packet.dst.addr_mode == t.AddrMode.NWK:
            node = self.nodes.get(packet.dst.address)
            if node is None:
                raise zigpy.exceptions.DeliveryError(f"no route to 0x{packet.dst.address:04X}")
            targets = [node]
        elif packet.dst.addr_mode == t.AddrMode.IEEE:
            targets = [
                n for n in self.nodes.values() if getattr(n, "ieee", None) == packet.dst.address
            ]
            if not targets:
                raise zigpy.exceptions.DeliveryError(f"no route to {packet.dst.address}")
        else:
            targets = list(self.nodes.values())
        nwk = targets[0].nwk if _unicast(packet) else int(packet.dst.address)
        reason = self._refused(packet, nwk)
        if reason is not None:  # as a real NCP refuses a message too long to send
            raise zigpy.exceptions.DeliveryError(reason)
        for delay, copy in self._copies(packet, self.down, nwk):
            loop.call_later(delay, self._land_at_nodes, copy, targets)

    def _land_at_nodes(self, packet: t.ZigbeePacket, targets: list[Node]) -> None:
        self._capture(packet)
        for node in targets:
            if self.nodes.get(node.nwk) is node:
                node.receive(packet)

    def between_nodes(self, packet: t.ZigbeePacket) -> None:
        """A node that is not the coordinator (the ESME, a rogue node) transmits straight to an
        attached node, as routers in a mesh do; an address nobody holds hears nothing."""
        loop = asyncio.get_running_loop()
        node = self.nodes.get(packet.dst.address)
        if node is None:
            return
        if self._refused(packet, node.nwk) is not None:
            return
        for delay, copy in self._copies(packet, self.down, node.nwk):
            loop.call_later(delay, self._land_at_nodes, copy, [node])

    def to_coordinator(self, packet: t.ZigbeePacket) -> None:
        """A node transmits (to the coordinator, or a broadcast the coordinator hears)."""
        loop = asyncio.get_running_loop()
        nwk = packet.src.address if packet.src is not None else -1
        if self._refused(packet, nwk) is not None:
            return
        for delay, copy in self._copies(packet, self.up, nwk):
            loop.call_later(delay, self._land_at_coordinator, copy)

    def _land_at_coordinator(self, packet: t.ZigbeePacket) -> None:
        self._capture(packet)
        if self.app is not None:
            self.app.packet_received(packet)


class SmartEnergyDevice(ZigbeeDevice):
    """zigpy's device object, parsing Smart Energy (0x0109) frames as the ZCL they are."""

    def _parse_packet_header(self, packet: t.ZigbeePacket) -> Any:
        if packet.profile_id == SE_PROFILE_ID and packet.src_ep != zigpy.zdo.ZDO_ENDPOINT:
            hdr, _ = foundation.ZCLHeader.deserialize(packet.data.serialize())
            key = ResponseKey(
                endpoint_id=packet.src_ep,
                cluster_id=packet.cluster_id,
                direction=hdr.frame_control.direction,
                tsn=hdr.tsn,
            )
            return hdr, key
        return super()._parse_packet_header(packet)


LocalHandler = Callable[[t.ZigbeePacket], None]


def _zcl_tsn(data: bytes) -> int:
    """The TSN of a ZCL frame (after the manufacturer code when there is one)."""
    index = 3 if data and data[0] & 0x04 else 1
    return data[index] if len(data) > index else 0


class SmartEnergyHost:
    """What a coordinator needs to host the Comms Hub, mixed into any zigpy radio's
    `ControllerApplication` (this module's, bellows'): Smart Energy device objects, frames to its
    own endpoints routed to handlers (`serve`), raw ZCL sent from them (`send_zcl`)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)  # type: ignore[call-arg]
        self._local: dict[tuple[int, int], LocalHandler] = {}

    def add_device(self, ieee: t.EUI64, nwk: t.NWK) -> ZigbeeDevice:
        dev = SmartEnergyDevice(self, ieee, nwk)
        self.devices[ieee] = dev  # type: ignore[attr-defined]
        return dev

    def serve(self, endpoint: int, cluster: int, handler: LocalHandler) -> None:
        """Frames to (`endpoint`, `cluster`) of the coordinator go to `handler`, not to zigpy."""
        self._local[(endpoint, cluster)] = handler

    async def send_zcl(
        self, device: ZigbeeDevice, *, src_ep: int, dst_ep: int, cluster: int, data: bytes
    ) -> None:
        """Send ZCL bytes from one of the coordinator's endpoints through zigpy's request path."""
        profile = SE_PROFILE_ID
        endpoint = device.endpoints.get(dst_ep)
        if isinstance(endpoint, zigpy.endpoint.Endpoint) and endpoint.profile_id is not None:
            profile = endpoint.profile_id
        await self.request(  # type: ignore[attr-defined]
            device,
            profile,
            cluster,
            src_ep,
            dst_ep,
            _zcl_tsn(data),
            data,
            expect_reply=False,
        )

    def packet_received(self, packet: t.ZigbeePacket) -> None:
        if packet.dst_ep not in (None, zigpy.zdo.ZDO_ENDPOINT):
            handler = self._local.get((packet.dst_ep, packet.cluster_id))
            if handler is not None:
                handler(packet)
                return
        if packet.profile_id == SE_PROFILE_ID or (
            packet.src_ep == zigpy.zdo.ZDO_ENDPOINT
            and packet.cluster_id == zdo_t.ZDOCmd.Match_Desc_req
        ):
            self.adopt(packet)
        super().packet_received(packet)  # type: ignore[misc]

    def adopt(self, packet: t.ZigbeePacket) -> ZigbeeDevice | None:
        """The sender's device object, made a `SmartEnergyDevice` if zigpy made it (re-interview
        shadows, clones are zigpy's own objects, out of an application's reach)."""
        try:
            device = self.get_device_with_address(packet.src)  # type: ignore[attr-defined]
        except KeyError:
            return None
        if type(device) is ZigbeeDevice:
            device.__class__ = SmartEnergyDevice
        return device


class VirtualControllerApplication(SmartEnergyHost, zigpy.application.ControllerApplication):
    """A zigpy coordinator whose radio is a `VirtualNetwork`; it answers Smart Energy
    Match_Desc itself, as a Silicon Labs NCP's stack does."""

    DISPLAY_NAME = "hanemu virtual radio"
    DESCRIPTION = "In-process radio for emulated Smart Energy devices"

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.network: VirtualNetwork | None = None
        self._stored: tuple[Any, Any] | None = None
        self._endpoints: list[zdo_t.SimpleDescriptor] = []

    @classmethod
    def default_config(
        cls, *, channel: int = 15, extra_endpoints: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """A configuration with no database, no backups and no OTA providers."""
        return {
            zigpy.config.CONF_DEVICE: {zigpy.config.CONF_DEVICE_PATH: "virtual://"},
            zigpy.config.CONF_DATABASE: None,
            zigpy.config.CONF_NWK: {zigpy.config.CONF_NWK_CHANNEL: channel},
            zigpy.config.CONF_OTA: {"enabled": True, "providers": [], "broadcast_enabled": False},
            zigpy.config.CONF_TOPO_SCAN_ENABLED: False,
            zigpy.config.CONF_NWK_BACKUP_ENABLED: False,
            zigpy.config.CONF_WATCHDOG_ENABLED: False,
            zigpy.config.CONF_ADDITIONAL_ENDPOINTS: extra_endpoints or [],
        }

    # -- Smart Energy ---------------------------------------------------------------------------

    def packet_received(self, packet: t.ZigbeePacket) -> None:
        if (
            packet.src_ep == zigpy.zdo.ZDO_ENDPOINT
            and packet.cluster_id == zdo_t.ZDOCmd.Match_Desc_req
        ):
            device = self.adopt(packet)
            if device is not None and self._match_desc(device, packet):
                return
        super().packet_received(packet)

    def _match_desc(self, device: ZigbeeDevice, packet: t.ZigbeePacket) -> bool:
        """Answer a Smart Energy Match_Desc_req from our SE endpoints; True if handled."""
        if packet.cluster_id != zdo_t.ZDOCmd.Match_Desc_req or packet.src_ep != 0:
            return False
        hdr, args = zdo_t.ZDOHeader.deserialize(packet.cluster_id, packet.data.serialize())
        fields, _ = t.deserialize(args, zdo_t.CLUSTERS[zdo_t.ZDOCmd.Match_Desc_req][1])
        _addr, profile, in_clusters, out_clusters = fields
        if profile != SE_PROFILE_ID:
            return False
        matches = [
            d.endpoint
            for d in self._endpoints
            if d.profile == SE_PROFILE_ID
            and (
                set(in_clusters) & set(d.input_clusters)
                or set(out_clusters) & set(d.output_clusters)
            )
        ]
        self.create_task(
            device.zdo.Match_Desc_rsp(
                0,
                self.state.node_info.nwk,
                matches,
                tsn=hdr.tsn,
                priority=t.PacketPriority.CRITICAL,
            ),
            "se-match-desc-rsp",
        )
        return True

    # -- the radio ------------------------------------------------------------------------------

    async def connect(self) -> None:
        self._endpoints = []
        await self.register_endpoints()

    async def disconnect(self) -> None:
        pass

    async def add_endpoint(self, descriptor: zdo_t.SimpleDescriptor) -> None:
        self._endpoints.append(descriptor)

    async def load_network_info(self, *, load_devices: bool = False) -> None:
        if self._stored is None:
            raise zigpy.exceptions.NetworkNotFormed()
        self.state.network_info, self.state.node_info = self._stored

    async def write_network_info(
        self, *, network_info: zigpy.state.NetworkInfo, node_info: zigpy.state.NodeInfo
    ) -> None:
        if node_info.ieee == t.EUI64.UNKNOWN:
            node_info = node_info.replace(ieee=COORDINATOR_IEEE)
        self._stored = (network_info, node_info)

    async def reset_network_info(self) -> None:
        self._stored = None

    async def start_network(self) -> None:
        await self.load_network_info()
        info = self.state.node_info
        dev = self.add_device(ieee=info.ieee, nwk=info.nwk)
        dev.node_desc = zdo_t.NodeDescriptor(
            logical_type=zdo_t.LogicalType.Coordinator,
            complex_descriptor_available=0,
            user_descriptor_available=0,
            reserved=0,
            aps_flags=0,
            frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
            mac_capability_flags=zdo_t.NodeDescriptor.MACCapabilityFlags.AllocateAddress
            | zdo_t.NodeDescriptor.MACCapabilityFlags.RxOnWhenIdle
            | zdo_t.NodeDescriptor.MACCapabilityFlags.MainsPowered
            | zdo_t.NodeDescriptor.MACCapabilityFlags.FullFunctionDevice,
            manufacturer_code=0x1234,
            maximum_buffer_size=framesize.max_aps_payload(framesize.NWK_ONLY),
            maximum_incoming_transfer_size=82,
            server_mask=0x2C41,
            maximum_outgoing_transfer_size=82,
            descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
        )
        for d in self._endpoints:
            ep = dev.add_endpoint(d.endpoint)
            ep.profile_id, ep.device_type = d.profile, d.device_type
            ep.status = zigpy.endpoint.Status.ZDO_INIT
            for c in d.input_clusters:
                ep.add_input_cluster(c)
            for c in d.output_clusters:
                ep.add_output_cluster(c)
        dev.model, dev.manufacturer = "Virtual Comms Hub", "hanemu"

    async def force_remove(self, dev: ZigbeeDevice) -> None:
        if self.network is not None:
            node = self.network.nodes.get(dev.nwk)
            if node is not None:
                self.network.detach(node)

    async def permit_ncp(self, time_s: int = 60) -> None:
        pass

    async def permit_with_link_key(self, node: t.EUI64, link_key: t.KeyData, time_s: int = 60):
        pass

    async def send_packet(self, packet: t.ZigbeePacket) -> None:
        if self.network is None:
            raise zigpy.exceptions.DeliveryError("the virtual radio is not attached to a network")
        async with self._limit_concurrency(priority=packet.priority):
            await self.network.from_coordinator(packet)


ControllerApplication = VirtualControllerApplication
"""The name radio libraries export for zigpy's `zigpy.radio` entry point group."""


async def start(
    network: VirtualNetwork,
    *,
    channel: int = 15,
    extra_endpoints: list[dict[str, Any]] | None = None,
) -> VirtualControllerApplication:
    """Form a network on a new coordinator attached to `network` and start it."""
    config = VirtualControllerApplication.default_config(
        channel=channel, extra_endpoints=extra_endpoints
    )
    app = VirtualControllerApplication(config)
    app.network = network
    network.app = app
    await app.startup(auto_form=True)
    return app
