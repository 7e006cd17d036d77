"""The Comms Hub's Smart Energy application endpoint, on any air.

A GB Comms Hub is the HAN's coordinator and its OTA server. `CommsHub` holds hanemu's sans-IO
`OtaServer` and an SE Tunneling server (cluster 0x0704, the carrier for GBCS commands, responses
and alerts between the head-end and HAN devices) on one Smart Energy endpoint. The air hands it
the frames devices address to that endpoint (`ota_received`, `tunnel_received`) and carries what
it sends through the one callable it was given (`send(nwk, cluster, data, endpoint)`), delayed as
the server asks. Devices find the endpoint with Match_Desc on profile 0x0109.

Tunnel data is carried as SE Tunneling TransferData (`emulator.device.tunnel`). This module owns
that glue; it never decides OTA behaviour (the server's) or GBCS behaviour (the head-end's and
the devices'), never knows which air carries it and never reads wall time.
"""

from __future__ import annotations

from collections.abc import Callable

from zigpy.zcl import foundation

from emulator.clock import Clock
from emulator.device.tunnel import (
    GBCS_TUNNEL_ID,
    TRANSFER_DATA_C2S,
    TUNNELING_CLUSTER,
    TunnelSender,
    parse_transfer_data,
)
from emulator.ota.frames import Send
from emulator.ota.server import OtaServer
from emulator.profiles import OTA_CLUSTER, SMART_ENERGY_PROFILE

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
HubSend = Callable[[int, int, bytes, "int | None"], None]
"""How an air carries a hub frame: (device nwk, cluster, ZCL bytes, device endpoint or None)."""


class CommsHub:
    """The hub's SE endpoint: hanemu's OTA server and the GBCS tunnel."""

    def __init__(self, server: OtaServer, clock: Clock, send: HubSend) -> None:
        self.server = server
        self.clock = clock
        self._send = send
        self.on_tunnel: TunnelHandler | None = None
        self.endpoints: dict[int, int] = {}
        """Device nwk -> the endpoint its OTA client spoke from."""
        self.tunnel = TunnelSender(foundation.Direction.Server_to_Client)

    def ota_received(
        self, src: int, data: bytes, *, broadcast: bool = False, endpoint: int | None = None
    ) -> None:
        """An OTA cluster frame from a device."""
        if endpoint is not None:
            self.endpoints[src] = endpoint
        for send in self.server.handle(data, src, self.clock.now, broadcast=broadcast):
            if send.delay > 0:
                self.send(send)
            else:  # `send`, in short: every block response of a download comes here
                self._send(send.dst, OTA_CLUSTER, send.data, self.endpoints.get(send.dst))

    def send(self, send: Send, *, endpoint: int | None = None) -> None:
        """Carry out one of the server's `Send` actions."""
        if send.delay > 0:
            self.clock.call_later(
                send.delay, self._send_now, send.dst, OTA_CLUSTER, send.data, endpoint
            )
        else:
            self._send_now(send.dst, OTA_CLUSTER, send.data, endpoint)

    def _send_now(self, nwk: int, cluster: int, data: bytes, endpoint: int | None) -> None:
        self._send(nwk, cluster, data, endpoint or self.endpoints.get(nwk))

    def offer(self, nwk: int, image: bytes) -> None:
        """Put an image in the server's store and tell the device with Image Notify."""
        self.server.store.add(image)
        for send in self.server.notify(nwk):
            self.send(send)

    # -- GBCS tunnel ---------------------------------------------------------------------------

    def tunnel_received(self, src: int, zcl: bytes, *, endpoint: int | None = None) -> None:
        """An SE Tunneling frame from a device: TransferData on the GBCS tunnel goes on to the
        head-end."""
        try:
            hdr, payload = foundation.ZCLHeader.deserialize(zcl)
        except (ValueError, KeyError):
            return
        if hdr.frame_control.frame_type != foundation.FrameType.CLUSTER_COMMAND:
            return
        if hdr.command_id != TRANSFER_DATA_C2S:
            return
        if endpoint is not None:
            self.endpoints.setdefault(src, endpoint)
        parsed = parse_transfer_data(payload)
        if parsed is not None and parsed[0] == GBCS_TUNNEL_ID and self.on_tunnel is not None:
            self.on_tunnel(src, parsed[1])

    def send_tunnel(self, nwk: int, data: bytes, *, tunnel_id: int = GBCS_TUNNEL_ID) -> None:
        """Send GBCS bytes (or the hub's instruction) to a device over SE Tunneling."""
        frame = self.tunnel.frame(data, tunnel_id=tunnel_id)
        self._send_now(nwk, TUNNELING_CLUSTER, frame, None)
