"""An emulated device as a Zigbee node: its `Port` on the zigpy air.

`ZigpyNode` is what an `EmulatedDevice` looks like on a Zigbee network. It announces the device
(Device_annce), answers the ZDO requests a coordinator interviews and configures with (Node,
Active EP and Simple descriptors, IEEE and NWK address, Match_Desc, Bind/Unbind on a binding
table, Mgmt_Bind), and answers the general ZCL commands on every cluster the device declares
(`zcl_general`: Read/Write Attributes, Configure Reporting; Default Responses for the rest) plus
Identify. It discovers the OTA server with Match_Desc on the device's own profile and resolves
its EUI with IEEE_addr_req. It sends the client's frames from the endpoint that lists the OTA
cluster, with that endpoint's profile (0x0109 for every GB device), and hands OTA commands and
SE Tunneling TransferData to the device.

It talks to the network through one callable (`transmit(packet)`) and a clock, so it runs on any
packet radio. It never decides OTA or GBCS behaviour (the device's), never blocks and never
reads wall time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, Identify

from emulator.clock import Clock, Timer
from emulator.device.campaign import at_time
from emulator.device.emulated import EmulatedDevice
from emulator.device.hub import HUB_ENDPOINT
from emulator.device.messaging import MESSAGING_CLUSTER
from emulator.device.tunnel import TRANSFER_DATA_S2C, TUNNELING_CLUSTER
from emulator.ota.frames import Send
from emulator.profiles import OTA_CLUSTER
from emulator.radio import zcl_general
from emulator.radio.zcl_general import ClusterAttributes, KeyEstablishmentSuite

ZDO_PROFILE = 0x0000
DISCOVERY_TIMEOUT_S = 5.0
ANNOUNCE_SETTLE_S = 1.0
"""From Device_annce to the node's first discovery: the coordinator takes the join in first."""
_DEFAULT_RESPONSE = foundation.GeneralCommand.Default_Response
BINDING_TABLE_SIZE = 16
"""Entries a node's binding table holds (EmberZNet's default EMBER_BINDING_TABLE_SIZE)."""
CLUSTER_REVISIONS = {Basic.cluster_id: 3, Identify.cluster_id: 2}
"""ClusterRevision of the clusters the node implements as ZCL rev 8 defines them; every other
cluster it declares reports revision 1 (OTA: the profile's `cluster_revision`)."""
KEY_ESTABLISHMENT_SUITE = KeyEstablishmentSuite.CBKE_ECMQV_suite_1
"""GB HAN devices establish keys with CBKE on Crypto Suite 1 (sect163k1 certificates)."""


class ZigpyNode:
    """One emulated device on a Zigbee network: its ZDO, Basic and OTA attribute answers, and
    its `Port` (frames, server discovery, EUI resolution)."""

    def __init__(
        self,
        device: EmulatedDevice,
        *,
        transmit: Callable[[t.ZigbeePacket], None],
        clock: Clock,
        rng: random.Random,
        manufacturer: str = "hanemu",
        model: str = "emulated device",
    ) -> None:
        self.device = device
        self.nwk = device.nwk
        self.ieee = t.EUI64(device.ieee.to_bytes(8, "little"))
        self.identity = device.zigbee
        self.transmit = transmit
        self.clock = clock
        self.manufacturer = manufacturer
        self.model = model
        self._ota_ep = next(
            (e for e in self.identity.endpoints if OTA_CLUSTER in e.output_clusters),
            self.identity.endpoints[0],
        )
        self.server_endpoint: int | None = None
        self._zdo_tsn = rng.randrange(256)
        self._aps = rng.randrange(256)
        self._discovery: Timer | None = None
        self._announced_at: float | None = None
        self._identify_until = 0.0
        self._basic_settings: dict[str, Any] = {
            "location_desc": "",
            "physical_env": 0,
            "device_enabled": 1,
        }
        self.bindings: list[zdo_t.Binding] = []
        """The ZDO binding table (Bind_req / Unbind_req; Mgmt_Bind_req reads it)."""
        self.zcl: dict[tuple[int, int, bool], ClusterAttributes] = {
            (e.id, c, client): self._cluster(c, client=client)
            for e in self.identity.endpoints
            for client, clusters in ((False, e.input_clusters), (True, e.output_clusters))
            for c in clusters
        }
        """Every cluster the node declares, by (endpoint, cluster, client side)."""

    def _cluster(self, cluster_id: int, *, client: bool) -> ClusterAttributes:
        """The attributes one declared cluster side implements."""
        revision = {"cluster_revision": CLUSTER_REVISIONS.get(cluster_id, 1)}
        if cluster_id == OTA_CLUSTER and client:
            return ClusterAttributes(cluster_id, self.device.client.attributes)
        if cluster_id == zcl_general.KEY_ESTABLISHMENT_CLUSTER:
            return ClusterAttributes(
                cluster_id, lambda: {**revision, "key_establishment_suite": KEY_ESTABLISHMENT_SUITE}
            )
        if cluster_id == Basic.cluster_id and not client:
            return ClusterAttributes(
                cluster_id,
                lambda: {**revision, **self._basic(), **self._basic_settings},
                writable=frozenset(self._basic_settings),
                on_write=self._basic_settings.__setitem__,
            )
        if cluster_id == Identify.cluster_id and not client:
            return ClusterAttributes(
                cluster_id,
                lambda: {**revision, "identify_time": self._identify_time()},
                writable=frozenset({"identify_time"}),
                on_write=lambda _name, value: self._set_identify_time(int(value)),
            )
        return ClusterAttributes(cluster_id, lambda: revision)

    @property
    def ota_endpoint(self) -> int:
        return self._ota_ep.id

    def endpoint_for(self, cluster: int) -> int:
        """The endpoint holding `cluster` as client (where a server sends it), else the OTA
        endpoint (which then answers UNSUPPORTED_CLUSTER)."""
        return next(
            (e.id for e in self.identity.endpoints if cluster in e.output_clusters),
            self._ota_ep.id,
        )

    def announce(self) -> None:
        """Join: broadcast Device_annce."""
        self._announced_at = self.clock.now
        capability = 0x80 | (0x00 if self.identity.sleepy else 0x08)
        if self.identity.node_type == "router":
            capability |= 0x02 | 0x04
        self._zdo_send(
            zdo_t.ZDOCmd.Device_annce,
            [t.NWK(self.nwk), self.ieee, t.uint8_t(capability)],
            broadcast=True,
        )

    # -- Port -----------------------------------------------------------------------------------

    def power_changed(self, powered: bool) -> None:
        if not powered and self._discovery is not None:
            self._discovery.cancel()
            self._discovery = None

    def send_ota(self, send: Send) -> None:
        if send.delay > 0:
            self.clock.call_later(send.delay, self._send_ota_now, send)
        else:
            self._send_ota_now(send)

    def _send_ota_now(self, send: Send) -> None:
        if self.device.powered:
            self.send_zcl(OTA_CLUSTER, send.data, dst=send.dst)

    def send_tunnel(self, frame: bytes) -> None:
        self.send_zcl(TUNNELING_CLUSTER, frame, dst_ep=HUB_ENDPOINT)

    def discover_server(self) -> None:
        settled = None if self._announced_at is None else self._announced_at + ANNOUNCE_SETTLE_S
        if settled is not None and self.clock.now < settled:
            # The coordinator has not taken the join in yet: a real node would still be busy
            # joining (association, link key). Ask once it has.
            self.clock.call_at(settled, self._discover_if_on)
            return
        self._zdo_send(
            zdo_t.ZDOCmd.Match_Desc_req,
            [
                t.NWK(0xFFFD),
                t.uint16_t(self.identity.profile_id),
                t.LVList[t.uint16_t]([t.uint16_t(OTA_CLUSTER)]),
                t.LVList[t.uint16_t]([]),
            ],
            broadcast=True,
        )
        if self._discovery is not None:
            self._discovery.cancel()
        self._discovery = self.clock.call_later(DISCOVERY_TIMEOUT_S, self._discovery_failed)

    def _discover_if_on(self) -> None:
        if self.device.powered:
            self.discover_server()

    def resolve_server_eui(self, address: int) -> None:
        self._zdo_send(
            zdo_t.ZDOCmd.IEEE_addr_req,
            [t.NWK(address), zdo_t.AddrRequestType.Single, t.uint8_t(0)],
            dst=address,
        )

    def _discovery_failed(self) -> None:
        self._discovery = None
        self.device.discovery_failed()

    # -- sending --------------------------------------------------------------------------------

    def _next_aps(self) -> int:
        self._aps = (self._aps + 1) & 0xFF
        return self._aps

    def _packet(
        self,
        *,
        src_ep: int,
        dst: int | None,
        dst_ep: int,
        profile: int,
        cluster: int,
        data: bytes,
    ) -> t.ZigbeePacket:
        if dst is None:
            address = t.AddrModeAddress(
                addr_mode=t.AddrMode.Broadcast, address=t.BroadcastAddress.RX_ON_WHEN_IDLE
            )
        else:
            address = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(dst))
        return t.ZigbeePacket(
            timestamp=at_time(self.clock.now),
            src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=t.NWK(self.nwk)),
            src_ep=src_ep,
            dst=address,
            dst_ep=dst_ep,
            tsn=self._next_aps(),
            profile_id=profile,
            cluster_id=cluster,
            data=t.SerializableBytes(data),
            lqi=255,
            rssi=-40,
        )

    def send_zcl(self, cluster: int, data: bytes, *, dst: int = 0x0000, dst_ep: int | None = None):
        """Send ZCL bytes from the node's OTA endpoint to the server's endpoint."""
        ep = self._ota_ep.id
        self.transmit(
            self._packet(
                src_ep=ep,
                dst=dst,
                dst_ep=dst_ep if dst_ep is not None else (self.server_endpoint or 1),
                profile=self.identity.profile_id,
                cluster=cluster,
                data=data,
            )
        )

    def _zdo_send(
        self,
        command: int,
        args: list[Any],
        *,
        broadcast: bool = False,
        dst: int = 0x0000,
        tsn: int | None = None,
    ) -> None:
        if tsn is None:
            self._zdo_tsn = (self._zdo_tsn + 1) & 0xFF
            tsn = self._zdo_tsn
        data = bytes([tsn]) + t.serialize(args, zdo_t.CLUSTERS[command][1])
        self.transmit(
            self._packet(
                src_ep=0,
                dst=None if broadcast else dst,
                dst_ep=0,
                profile=ZDO_PROFILE,
                cluster=command,
                data=data,
            )
        )

    # -- receiving ------------------------------------------------------------------------------

    def receive(self, packet: t.ZigbeePacket) -> None:
        """A packet from the air addressed to this node (or broadcast)."""
        if not self.device.powered:
            return
        if packet.dst_ep == 0:
            self._zdo(packet)
            return
        data = packet.data.serialize()
        try:
            hdr, payload = foundation.ZCLHeader.deserialize(data)
        except (ValueError, KeyError):
            return
        broadcast = packet.dst.addr_mode != t.AddrMode.NWK
        client = hdr.direction == foundation.Direction.Server_to_Client
        if packet.dst_ep == 0xFF:
            endpoints = [
                e.id
                for e in self.identity.endpoints
                if (e.id, packet.cluster_id, client) in self.zcl
            ]
            if packet.cluster_id == OTA_CLUSTER and client and endpoints:
                self.device.ota_frame(data, packet.src.address, broadcast)
                return
            for endpoint in endpoints:
                self._zcl(packet, endpoint, hdr, payload, broadcast=True)
            return
        if packet.dst_ep not in (e.id for e in self.identity.endpoints):
            return
        self._zcl(packet, packet.dst_ep, hdr, payload, broadcast=broadcast)

    def _zcl(
        self,
        packet: t.ZigbeePacket,
        endpoint: int,
        hdr: foundation.ZCLHeader,
        payload: bytes,
        *,
        broadcast: bool,
    ) -> None:
        """A ZCL frame for one of the node's endpoints: to the device (OTA, SE Tunneling), or
        answered here (general commands on every declared cluster, Identify)."""
        client = hdr.direction == foundation.Direction.Server_to_Client
        cluster = self.zcl.get((endpoint, packet.cluster_id, client))
        fc = hdr.frame_control
        if cluster is None:  # a cluster this side of the endpoint lacks: UNSUPPORTED_CLUSTER
            answer = zcl_general.default_response(
                hdr, foundation.Status.UNSUPPORTED_CLUSTER, broadcast=broadcast
            )
        elif (
            packet.cluster_id == OTA_CLUSTER
            and client
            and (fc.is_cluster or hdr.command_id == _DEFAULT_RESPONSE)
        ):
            # The OTA client owns its commands, and Default Responses to its own requests.
            self.device.ota_frame(packet.data.serialize(), packet.src.address, broadcast)
            return
        elif fc.is_general:
            if hdr.command_id == _DEFAULT_RESPONSE:
                return  # to a command the node sent (none but OTA's): nothing to do
            answer = zcl_general.answer(cluster, hdr, payload, broadcast=broadcast)
        elif (
            packet.cluster_id == TUNNELING_CLUSTER
            and client
            and not fc.is_manufacturer_specific
            and hdr.command_id == TRANSFER_DATA_S2C
        ):
            self.device.tunnel_frame(packet.data.serialize())
            answer = zcl_general.default_response(
                hdr, foundation.Status.SUCCESS, broadcast=broadcast
            )
        elif packet.cluster_id == MESSAGING_CLUSTER and client and fc.is_cluster:
            self.device.messaging_frame(packet.data.serialize(), packet.src.address)
            answer = None  # a Display Message asks for no Default Response; others are ignored
        elif packet.cluster_id == Identify.cluster_id and not client:
            answer = self._identify(hdr, payload, broadcast=broadcast)
        else:
            answer = zcl_general.default_response(
                hdr, zcl_general.unsupported(hdr), broadcast=broadcast
            )
        if answer is not None:
            self._reply(packet, endpoint, answer)

    def _reply(self, packet: t.ZigbeePacket, endpoint: int, data: bytes) -> None:
        self.transmit(
            self._packet(
                src_ep=endpoint,
                dst=packet.src.address,
                dst_ep=packet.src_ep,
                profile=packet.profile_id,
                cluster=packet.cluster_id,
                data=data,
            )
        )

    # -- Identify (ZCL §3.5): the two mandatory commands --------------------------------------

    def _identify(self, hdr: foundation.ZCLHeader, payload: bytes, *, broadcast: bool):
        if hdr.frame_control.is_manufacturer_specific or hdr.command_id not in (0x00, 0x01):
            return zcl_general.default_response(
                hdr, zcl_general.unsupported(hdr), broadcast=broadcast
            )
        if hdr.command_id == 0x00:  # Identify: start (or stop, with 0) identifying
            try:
                identify_time, _ = t.uint16_t.deserialize(payload)
            except ValueError:
                return zcl_general.default_response(
                    hdr, foundation.Status.MALFORMED_COMMAND, broadcast=broadcast
                )
            self._set_identify_time(int(identify_time))
            return zcl_general.default_response(hdr, foundation.Status.SUCCESS, broadcast=broadcast)
        remaining = self._identify_time()
        if not remaining:  # §3.5.2.3.2: a device that is not identifying does not answer
            return None
        header = zcl_general.response_header(hdr, 0x00)  # Identify Query Response
        header.frame_control = header.frame_control.replace(
            frame_type=foundation.FrameType.CLUSTER_COMMAND
        )
        return header.serialize() + t.uint16_t(remaining).serialize()

    def _identify_time(self) -> int:
        """IdentifyTime counts down each second while the device identifies (§3.5.2.2.1)."""
        return max(0, math.ceil(self._identify_until - self.clock.now))

    def _set_identify_time(self, seconds: int) -> None:
        self._identify_until = self.clock.now + seconds

    def _basic(self) -> dict[str, Any]:
        return {
            "zcl_version": 8,
            "app_version": self.device.flash.running_version & 0xFF,
            "stack_version": 2,
            "hw_version": self.identity.hardware_version & 0xFF,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "power_source": 1 if self.identity.node_type == "router" else 3,
            "sw_build_id": f"0x{self.device.flash.running_version:08X}",
        }

    def _simple_descriptor(self, endpoint_id: int) -> zdo_t.SizePrefixedSimpleDescriptor | None:
        for e in self.identity.endpoints:
            if e.id == endpoint_id:
                return zdo_t.SizePrefixedSimpleDescriptor(
                    endpoint=e.id,
                    profile=self.identity.profile_id,
                    device_type=self.identity.device_id,
                    device_version=0,
                    input_clusters=list(e.input_clusters),
                    output_clusters=list(e.output_clusters),
                )
        return None

    def _node_descriptor(self) -> zdo_t.NodeDescriptor:
        router = self.identity.node_type == "router"
        flags = zdo_t.NodeDescriptor.MACCapabilityFlags.AllocateAddress
        if router:
            flags |= (
                zdo_t.NodeDescriptor.MACCapabilityFlags.FullFunctionDevice
                | zdo_t.NodeDescriptor.MACCapabilityFlags.MainsPowered
            )
        if not self.identity.sleepy:
            flags |= zdo_t.NodeDescriptor.MACCapabilityFlags.RxOnWhenIdle
        return zdo_t.NodeDescriptor(
            logical_type=zdo_t.LogicalType.Router if router else zdo_t.LogicalType.EndDevice,
            complex_descriptor_available=0,
            user_descriptor_available=0,
            reserved=0,
            aps_flags=0,
            frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
            mac_capability_flags=flags,
            manufacturer_code=self.identity.manufacturer_id,
            maximum_buffer_size=82,
            maximum_incoming_transfer_size=82,
            server_mask=0,
            maximum_outgoing_transfer_size=82,
            descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
        )

    def _bind(self, cmd: int, entry: zdo_t.Binding) -> zdo_t.Status:
        """Bind_req / Unbind_req on the node's own binding table (ZDO, Zigbee R22 §2.4.3.2.2,
        §2.4.3.2.3: the request names this node as the source)."""
        if entry.SrcAddress != self.ieee:
            return zdo_t.Status.NOT_SUPPORTED
        if entry.SrcEndpoint not in (e.id for e in self.identity.endpoints):
            return zdo_t.Status.INVALID_EP
        present = entry in self.bindings
        if cmd == zdo_t.ZDOCmd.Unbind_req:
            if not present:
                return zdo_t.Status.NO_ENTRY
            self.bindings.remove(entry)
        elif not present:
            if len(self.bindings) >= BINDING_TABLE_SIZE:
                return zdo_t.Status.TABLE_FULL
            self.bindings.append(entry)
        return zdo_t.Status.SUCCESS

    def _zdo(self, packet: t.ZigbeePacket) -> None:
        cmd = packet.cluster_id
        try:
            hdr, rest = zdo_t.ZDOHeader.deserialize(cmd, packet.data.serialize())
            args, _ = t.deserialize(rest, zdo_t.CLUSTERS[cmd][1])
        except (KeyError, ValueError):
            return
        src = packet.src.address
        ok = zdo_t.Status.SUCCESS
        nwk = t.NWK(self.nwk)

        def reply(command: int, values: list[Any]) -> None:
            self._zdo_send(command, values, dst=src, tsn=hdr.tsn)

        if cmd == zdo_t.ZDOCmd.Node_Desc_req:
            reply(zdo_t.ZDOCmd.Node_Desc_rsp, [ok, nwk, self._node_descriptor()])
        elif cmd == zdo_t.ZDOCmd.Active_EP_req:
            eps = t.LVList[t.uint8_t]([t.uint8_t(e.id) for e in self.identity.endpoints])
            reply(zdo_t.ZDOCmd.Active_EP_rsp, [ok, nwk, eps])
        elif cmd == zdo_t.ZDOCmd.Simple_Desc_req:
            descriptor = self._simple_descriptor(args[1])
            if descriptor is None:
                reply(zdo_t.ZDOCmd.Simple_Desc_rsp, [zdo_t.Status.NOT_ACTIVE, nwk, None])
            else:
                reply(zdo_t.ZDOCmd.Simple_Desc_rsp, [ok, nwk, descriptor])
        elif cmd == zdo_t.ZDOCmd.IEEE_addr_req:
            if args[0] == self.nwk:
                reply(zdo_t.ZDOCmd.IEEE_addr_rsp, [ok, self.ieee, nwk])
        elif cmd == zdo_t.ZDOCmd.NWK_addr_req:
            if args[0] == self.ieee:
                reply(zdo_t.ZDOCmd.NWK_addr_rsp, [ok, self.ieee, nwk])
        elif cmd == zdo_t.ZDOCmd.Match_Desc_req:
            profile, in_clusters, out_clusters = args[1], set(args[2]), set(args[3])
            if profile != self.identity.profile_id:
                return
            matches = [
                t.uint8_t(e.id)
                for e in self.identity.endpoints
                if in_clusters & set(e.input_clusters) or out_clusters & set(e.output_clusters)
            ]
            if matches:
                reply(zdo_t.ZDOCmd.Match_Desc_rsp, [ok, nwk, t.LVList[t.uint8_t](matches)])
        elif cmd in (zdo_t.ZDOCmd.Bind_req, zdo_t.ZDOCmd.Unbind_req):
            reply(cmd | 0x8000, [self._bind(cmd, zdo_t.Binding(*args))])
        elif cmd == zdo_t.ZDOCmd.Mgmt_Bind_req:
            start = int(args[0])
            entries = t.LVList[zdo_t.Binding, t.uint8_t](self.bindings[start : start + 3])
            reply(
                zdo_t.ZDOCmd.Mgmt_Bind_rsp,
                [ok, t.uint8_t(len(self.bindings)), t.uint8_t(start), entries],
            )
        elif cmd == zdo_t.ZDOCmd.Match_Desc_rsp:
            status, _addr, matches = args
            if status == ok and matches and self._discovery is not None:
                self._discovery.cancel()
                self._discovery = None
                self.server_endpoint = int(matches[0])
                self.device.server_found(src)
        elif cmd == zdo_t.ZDOCmd.IEEE_addr_rsp:
            status, ieee = args[0], args[1]
            if status == ok:
                self.device.server_eui(int.from_bytes(bytes(ieee), "little"))
