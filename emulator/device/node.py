"""An emulated Zigbee node on an asyncio radio: ZDO, Basic and OTA attribute reads, OTA client.

`EmulatedNode` is what a device looks like on the air. It announces itself (Device_annce), answers
the ZDO requests a coordinator interviews with (Node, Active EP and Simple descriptors, IEEE and
NWK address, Match_Desc, Bind), answers Read Attributes on Basic and on its OTA client
attributes, discovers the OTA server with Match_Desc on its own profile, and drives the sans-IO
`OtaClient` as a `ClientDriver` on a `MemoryFlash` and a `Clock`: it sends the client's frames
from the endpoint that lists the OTA cluster, with that endpoint's profile (0x0109 for every GB
device), resolves the server's EUI with IEEE_addr_req and cuts power at download fractions.
Other clusters reach handlers registered with `on_cluster` (the GB wiring uses this for SE
Tunneling).

It talks to a radio through two callables (`transmit(packet)` and a clock), so the same node runs
on the virtual radio and on any other. It never decides OTA or GBCS behaviour (those are the
client's and the activation handler's), never blocks and never reads wall time.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, Ota

from emulator.clock import Clock, TimerHandle
from emulator.device.driver import ClientDriver
from emulator.device.flash import MemoryFlash
from emulator.ota import client as oc
from emulator.ota.client import ClientIdentity
from emulator.ota.frames import Send
from emulator.ota.image import parse_header
from emulator.ota.policy import ClientPolicy
from emulator.profiles import OTA_CLUSTER, ZigbeeIdentity

ZDO_PROFILE = 0x0000
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""Calendar time of clock time 0 (packet timestamps; the same epoch as campaigns and pcap)."""
DISCOVERY_TIMEOUT_S = 5.0
REBOOT_S = 2.0
"""Time from activation (or a power cut's end) to the node being back on the network."""
_READ_ATTRIBUTES = foundation.GeneralCommand.Read_Attributes
_READ_ATTRIBUTES_RSP = foundation.GeneralCommand.Read_Attributes_rsp
_DEFAULT_RESPONSE = foundation.GeneralCommand.Default_Response
_RSP = foundation.GENERAL_COMMANDS[_READ_ATTRIBUTES_RSP].schema

ClusterHandler = Callable[[foundation.ZCLHeader, bytes, t.ZigbeePacket], None]


@dataclass(slots=True)
class NodeStats:
    """What the node counted about its download."""

    bytes: int = 0
    blocks: int = 0
    download_started: float | None = None
    download_finished: float | None = None
    power_losses: int = 0
    activated_at: float | None = None
    transitions: list[tuple[float, str, str]] = field(default_factory=list)


class EmulatedNode(ClientDriver):
    """One emulated device: Zigbee identity, flash, OTA client, and the glue between them."""

    reboot_after_activation_s = REBOOT_S

    def __init__(
        self,
        *,
        nwk: int,
        ieee: int,
        identity: ZigbeeIdentity,
        running_image: bytes,
        transmit: Callable[[t.ZigbeePacket], None],
        clock: Clock,
        rng: random.Random,
        policy: ClientPolicy | None = None,
        manufacturer: str = "hanemu",
        model: str = "emulated device",
        verifier: oc.Verifier | None = None,
        power_loss_at: tuple[float, ...] = (),
    ) -> None:
        self.nwk = nwk
        self.ieee = t.EUI64(ieee.to_bytes(8, "little"))
        self.ieee_int = ieee
        self.identity = identity
        self.transmit = transmit
        self.rng = rng
        self.manufacturer = manufacturer
        self.model = model
        flash = MemoryFlash(running_image)
        self.start_file_version = flash.running_version
        self.stats = NodeStats()
        self.outcome: str | None = None
        self.reason: str | None = None
        self.on_outcome: list[Callable[[EmulatedNode], None]] = []
        self.on_progress: Callable[[int, int], None] | None = None
        self.on_state: list[Callable[[oc.State], None]] = []
        self._handlers: dict[int, ClusterHandler] = {}
        self._ota_ep = next(
            (e for e in identity.endpoints if OTA_CLUSTER in e.output_clusters),
            identity.endpoints[0],
        )
        self.server_endpoint: int | None = None
        self._zdo_tsn = rng.randrange(256)
        self._aps = rng.randrange(256)
        self._discovery: TimerHandle | None = None
        self._cuts = sorted(power_loss_at)
        super().__init__(
            clock=clock,
            flash=flash,
            identity=ClientIdentity(identity.manufacturer_id, identity.image_type, ieee=ieee),
            policy=policy,
            rng=random.Random(rng.getrandbits(64)),
            verifier=verifier,
        )

    # -- life cycle -----------------------------------------------------------------------------

    @property
    def ota_endpoint(self) -> int:
        return self._ota_ep.id

    def announce(self) -> None:
        """Join: broadcast Device_annce."""
        capability = 0x80 | (0x00 if self.identity.sleepy else 0x08)
        if self.identity.node_type == "router":
            capability |= 0x02 | 0x04
        self._zdo_send(
            zdo_t.ZDOCmd.Device_annce,
            [t.NWK(self.nwk), self.ieee, t.uint8_t(capability)],
            broadcast=True,
        )

    def power_off(self) -> None:
        super().power_off()
        if self._discovery is not None:
            self._discovery.cancel()
            self._discovery = None

    def on_cluster(self, cluster: int, handler: ClusterHandler) -> None:
        self._handlers[cluster] = handler

    def finish(self, outcome: str, reason: str | None = None) -> None:
        """Record where the download came to (the latest word wins: a device that reported
        no-image and is later offered one can still activate; "no-image" after a real outcome
        is the device's next routine query, not news)."""
        if outcome == "no-image" and self.outcome not in (None, "no-image"):
            return
        self.outcome, self.reason = outcome, reason
        for callback in self.on_outcome:
            callback(self)

    @property
    def downloaded(self) -> bytes:
        """The complete file in the download slot, or b"" when there is none."""
        record = self.flash.record
        if record is None or not record.complete:
            return b""
        return bytes(self.flash.slot[: record.image_size])

    # -- the OTA client's actions (ClientDriver hooks) ------------------------------------------

    def _on_transition(self, tr: oc.Transition) -> None:
        now = self.clock.now
        self.stats.transitions.append((round(now, 6), tr.old.value, tr.new.value))
        if tr.new is oc.State.DOWNLOAD and self.stats.download_started is None:
            self.stats.download_started = now
        if tr.old is oc.State.DOWNLOAD and tr.new is oc.State.VERIFY_IMAGE:
            self.stats.download_finished = now
        for callback in self.on_state:
            callback(tr.new)

    def _on_block_written(self, end: int, size: int) -> bool:
        self.stats.blocks += 1
        self.stats.bytes += size
        if self.on_progress is not None:
            self.on_progress(end, self._image_size)
        if self._cuts and self._image_size and end >= self._cuts[0] * self._image_size:
            self._cuts.pop(0)
            self._power_cut()
            return True
        return False

    def _on_activated(self, version: int) -> None:
        self.stats.activated_at = self.clock.now
        self.finish("activated")

    def _on_outcome(self, kind: str, reason: str | None) -> None:
        self.finish(kind, reason)

    def _power_cut(self) -> None:
        self.stats.power_losses += 1
        self.power_off()
        self.clock.call_later(REBOOT_S + 3.0, self.power_on)

    def install(self, data: bytes, how: str) -> None:
        """Firmware arriving by another route (Wi-Fi, a site visit): written, then activated."""
        if not self._powered:
            return
        self.power_off()
        self.flash.write_slot(0, data)
        header = parse_header(data)
        self.flash.commit_record(
            oc.DownloadRecord(
                header.manufacturer_id,
                header.image_type,
                header.file_version,
                len(data),
                len(data),
                header.stack_version,
            )
        )
        self.stats.bytes += len(data)
        self._switch_image()
        self.stats.activated_at = self.clock.now
        self.finish("activated", f"installed {how}")
        self.clock.call_later(REBOOT_S, self.power_on)

    def _discover_server(self) -> None:
        self._zdo_send(
            zdo_t.ZDOCmd.Match_Desc_req,
            [
                t.NWK(0xFFFD),
                t.uint16_t(self._ota_profile()),
                t.LVList[t.uint16_t]([t.uint16_t(OTA_CLUSTER)]),
                t.LVList[t.uint16_t]([]),
            ],
            broadcast=True,
        )
        if self._discovery is not None:
            self._discovery.cancel()
        self._discovery = self.clock.call_later(DISCOVERY_TIMEOUT_S, self._discovery_failed)

    def _resolve_server_eui(self, address: int) -> None:
        self._zdo_send(
            zdo_t.ZDOCmd.IEEE_addr_req,
            [t.NWK(address), zdo_t.AddrRequestType.Single, t.uint8_t(0)],
            dst=address,
        )

    def _discovery_failed(self) -> None:
        self._discovery = None
        self._feed(oc.DiscoveryFailed())

    def _ota_profile(self) -> int:
        return self.identity.profile_id

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
            timestamp=EPOCH + dt.timedelta(seconds=self.clock.now),
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

    def _send_frame(self, send: Send) -> None:
        if send.delay > 0:
            self.clock.call_later(send.delay, self._send_frame_now, send)
        else:
            self._send_frame_now(send)

    def _send_frame_now(self, send: Send) -> None:
        if self._powered:
            self.send_zcl(OTA_CLUSTER, send.data, dst=send.dst)

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
        if not self._powered:
            return
        if packet.dst_ep == 0:
            self._zdo(packet)
            return
        if packet.dst_ep not in (e.id for e in self.identity.endpoints) and packet.dst_ep != 0xFF:
            return
        data = packet.data.serialize()
        try:
            hdr, payload = foundation.ZCLHeader.deserialize(data)
        except (ValueError, KeyError):
            return
        broadcast = packet.dst.addr_mode != t.AddrMode.NWK
        if (
            hdr.frame_control.frame_type == foundation.FrameType.GLOBAL_COMMAND
            and hdr.command_id == _READ_ATTRIBUTES
        ):
            self._read_attributes(packet, hdr, payload)
            return
        if packet.cluster_id == OTA_CLUSTER:
            self._feed(oc.FrameReceived(data, packet.src.address, broadcast))
            return
        handler = self._handlers.get(packet.cluster_id)
        if handler is not None:
            handler(hdr, payload, packet)

    def _read_attributes(self, packet: t.ZigbeePacket, hdr: Any, payload: bytes) -> None:
        request, _ = foundation.GENERAL_COMMANDS[_READ_ATTRIBUTES].schema.deserialize(payload)
        if packet.cluster_id == OTA_CLUSTER:
            cluster, values = Ota, self.client.attributes()
        elif packet.cluster_id == Basic.cluster_id:
            cluster, values = Basic, self._basic()
        else:
            return
        records = []
        for attrid in request.attribute_ids:
            definition = cluster.attributes.get(attrid)
            value = None if definition is None else values.get(definition.name)
            if value is None:
                records.append(
                    foundation.ReadAttributeRecord(
                        attrid=attrid, status=foundation.Status.UNSUPPORTED_ATTRIBUTE
                    )
                )
                continue
            records.append(
                foundation.ReadAttributeRecord(
                    attrid=attrid,
                    status=foundation.Status.SUCCESS,
                    value=foundation.TypeValue(
                        type=definition.zcl_type, value=definition.type(value)
                    ),
                )
            )
        response = foundation.ZCLHeader.general(
            hdr.tsn, _READ_ATTRIBUTES_RSP, direction=hdr.direction.flip()
        )
        data = response.serialize() + _RSP(status_records=records).serialize()
        self.transmit(
            self._packet(
                src_ep=packet.dst_ep,
                dst=packet.src.address,
                dst_ep=packet.src_ep,
                profile=packet.profile_id,
                cluster=packet.cluster_id,
                data=data,
            )
        )

    def _basic(self) -> dict[str, Any]:
        return {
            "zcl_version": 8,
            "app_version": self.flash.running_version & 0xFF,
            "stack_version": 2,
            "hw_version": self.identity.hardware_version & 0xFF,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "power_source": 1 if self.identity.node_type == "router" else 3,
            "sw_build_id": f"0x{self.flash.running_version:08X}",
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
                reply(zdo_t.ZDOCmd.IEEE_addr_rsp, [ok, self.ieee, nwk, None, None, None])
        elif cmd == zdo_t.ZDOCmd.NWK_addr_req:
            if args[0] == self.ieee:
                reply(zdo_t.ZDOCmd.NWK_addr_rsp, [ok, self.ieee, nwk, None, None, None])
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
            reply(cmd | 0x8000, [ok])
        elif cmd == zdo_t.ZDOCmd.Match_Desc_rsp:
            status, _addr, matches = args
            if status == ok and matches and self._discovery is not None:
                self._discovery.cancel()
                self._discovery = None
                self.server_endpoint = int(matches[0])
                self._feed(oc.ServerFound(src))
        elif cmd == zdo_t.ZDOCmd.IEEE_addr_rsp:
            status, ieee = args[0], args[1]
            if status == ok:
                self._feed(oc.ServerEuiResolved(int.from_bytes(bytes(ieee), "little")))
