"""The Comms Hub's Smart Energy application endpoint on a zigpy coordinator.

A GB Comms Hub is the HAN's coordinator and its OTA server. `CommsHub` puts hanemu's sans-IO
`OtaServer` and an SE Tunneling server (cluster 0x0704, the carrier for GBCS commands, responses
and alerts between the head-end and HAN devices) on one Smart Energy endpoint of a zigpy
`Coordinator` (`emulator.radio.virtual`): frames addressed to that endpoint come here, the
server's `Send` actions go out through zigpy's request path, delayed as the server asks. Devices
find the endpoint with Match_Desc on profile 0x0109.

Tunnel data is carried as SE Tunneling TransferData (command 0x01 from the hub, 0x02 from a
device: TunnelID uint16, then the data octets). This module owns that glue; it never decides
OTA behaviour (the server's) or GBCS behaviour (the head-end's and the devices'), and never
reads wall time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import zigpy.types as t
from zigpy.zcl import foundation

from emulator.clock import Clock
from emulator.device.tunnel import (
    GBCS_TUNNEL_ID,
    TRANSFER_DATA_C2S,
    TUNNELING_CLUSTER,
    parse_transfer_data,
    transfer_data,
)
from emulator.ota.frames import Send
from emulator.ota.server import OtaServer
from emulator.profiles import OTA_CLUSTER, SMART_ENERGY_PROFILE


class Coordinator(Protocol):
    """What the hub needs from a zigpy coordinator (`emulator.radio.virtual` provides it)."""

    devices: dict[Any, Any]

    def serve(self, endpoint: int, cluster: int, handler: Callable[[Any], None]) -> None: ...

    async def send_zcl(
        self, device: Any, *, src_ep: int, dst_ep: int, cluster: int, data: bytes
    ) -> None: ...


HUB_ENDPOINT = 9
"""The Comms Hub's Smart Energy endpoint (any free id: devices find it with Match_Desc)."""
ESI_DEVICE_ID = 0x0500
"""SE device id of an Energy Service Interface (the Comms Hub's HAN role)."""
HUB_DESCRIPTOR = {
    "endpoint": HUB_ENDPOINT,
    "profile": SMART_ENERGY_PROFILE,
    "device_type": ESI_DEVICE_ID,
    "device_version": 0,
    "input_clusters": [0x0000, 0x000A, OTA_CLUSTER, TUNNELING_CLUSTER, 0x0800],
    "output_clusters": [],
}
"""For the coordinator's `additional_endpoints` configuration."""


TunnelHandler = Callable[[int, bytes], None]


class CommsHub:
    """The hub's SE endpoint: hanemu's OTA server and the GBCS tunnel, on a zigpy coordinator."""

    def __init__(
        self, app: Coordinator, server: OtaServer, clock: Clock, *, serve_ota: bool = True
    ) -> None:
        self.app = app
        self.server = server
        self.clock = clock
        self.on_tunnel: TunnelHandler | None = None
        self._endpoints: dict[int, int] = {}
        self._tsn = 0
        self._tasks: set[asyncio.Task] = set()
        if serve_ota:  # otherwise zigpy's own OTA code answers the devices
            app.serve(HUB_ENDPOINT, OTA_CLUSTER, self._ota)
        app.serve(HUB_ENDPOINT, TUNNELING_CLUSTER, self._tunnel)

    def _ota(self, packet: t.ZigbeePacket) -> None:
        src = packet.src.address
        self._endpoints[src] = packet.src_ep
        broadcast = packet.dst.addr_mode != t.AddrMode.NWK
        for send in self.server.handle(
            packet.data.serialize(), src, self.clock.now, broadcast=broadcast
        ):
            self.send(send)

    def send(self, send: Send, *, endpoint: int | None = None) -> None:
        """Carry out one of the server's `Send` actions."""
        if send.delay > 0:
            self.clock.call_later(send.delay, self._send_now, send, OTA_CLUSTER, endpoint)
        else:
            self._send_now(send, OTA_CLUSTER, endpoint)

    def _send_now(self, send: Send, cluster: int, endpoint: int | None) -> None:
        device = self.app.devices.get(self._ieee(send.dst)) if self._ieee(send.dst) else None
        if device is None:
            return
        dst_ep = endpoint or self._endpoints.get(send.dst) or 1
        task = asyncio.get_running_loop().create_task(
            self.app.send_zcl(
                device, src_ep=HUB_ENDPOINT, dst_ep=dst_ep, cluster=cluster, data=send.data
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # a delivery failure is the air's business; the server retries

    def _ieee(self, nwk: int) -> t.EUI64 | None:
        for ieee, device in self.app.devices.items():
            if device.nwk == nwk:
                return ieee
        return None

    def notify(self, nwk: int, endpoint: int, **fields: int) -> None:
        """Unicast Image Notify to a device."""
        for send in self.server.notify(nwk, **fields):
            self.send(send, endpoint=endpoint)

    # -- GBCS tunnel ---------------------------------------------------------------------------

    def _tunnel(self, packet: t.ZigbeePacket) -> None:
        try:
            hdr, payload = foundation.ZCLHeader.deserialize(packet.data.serialize())
        except (ValueError, KeyError):
            return
        if hdr.frame_control.frame_type != foundation.FrameType.CLUSTER_COMMAND:
            return
        if hdr.command_id != TRANSFER_DATA_C2S:
            return
        parsed = parse_transfer_data(payload)
        self._endpoints.setdefault(packet.src.address, packet.src_ep)
        if parsed is not None and parsed[0] == GBCS_TUNNEL_ID and self.on_tunnel is not None:
            self.on_tunnel(packet.src.address, parsed[1])

    def send_tunnel(
        self, nwk: int, endpoint: int, data: bytes, *, tunnel_id: int = GBCS_TUNNEL_ID
    ) -> None:
        """Send GBCS bytes (or the hub's instruction) to a device over SE Tunneling."""
        self._tsn = (self._tsn + 1) & 0xFF
        frame = transfer_data(
            self._tsn, data, direction=foundation.Direction.Server_to_Client, tunnel_id=tunnel_id
        )
        self._send_now(Send(frame, nwk), TUNNELING_CLUSTER, endpoint)
