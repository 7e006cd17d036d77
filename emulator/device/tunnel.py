"""GBCS over the HAN: SE Tunneling (cluster 0x0704) TransferData between the hub and a device.

Owns the tunnel's cluster and command ids, the tunnel ids hanemu uses (GBCS messages on one, the
hub's own activation instruction to a CH-managed device on another), the TransferData framing and
the numbering of tunnel frames (`TunnelSender`, one per sending end), so the hub and every
emulated device frame GBCS bytes the same way on any air. Never interprets the GBCS bytes it
carries.
"""

from __future__ import annotations

import struct

from zigpy.zcl import foundation

TUNNELING_CLUSTER = 0x0704
TRANSFER_DATA_S2C = 0x01
"""TransferData from the tunnelling server (the hub) to a client (a device)."""
TRANSFER_DATA_C2S = 0x02
"""TransferData from a client to the server (0x01 that way is CloseTunnel)."""
GBCS_TUNNEL_ID = 0x0001
HUB_INSTRUCTION_TUNNEL_ID = 0x0002
"""The hub's own activation instruction to a CH-managed device (SR 11.4). The GB documents do
not say how the instruction travels on the HAN; hanemu gives it its own tunnel."""
HUB_INSTRUCTION_ACTIVATE = b"\x01"
"""The one instruction on that tunnel: activate the image held."""


def transfer_data(
    tsn: int,
    data: bytes,
    *,
    direction: foundation.Direction,
    tunnel_id: int = GBCS_TUNNEL_ID,
) -> bytes:
    """A ZCL SE Tunneling TransferData frame carrying `data` on a tunnel."""
    command = (
        TRANSFER_DATA_C2S
        if direction == foundation.Direction.Client_to_Server
        else TRANSFER_DATA_S2C
    )
    header = foundation.ZCLHeader.cluster(tsn, command, direction=direction)
    header.frame_control = header.frame_control.replace(disable_default_response=True)
    return header.serialize() + struct.pack("<H", tunnel_id) + data


class TunnelSender:
    """One end of the tunnel: frames data as TransferData with its own ZCL sequence numbers."""

    __slots__ = ("_tsn", "direction")

    def __init__(self, direction: foundation.Direction, *, first_tsn: int = 0) -> None:
        self.direction = direction
        self._tsn = first_tsn & 0xFF

    def frame(self, data: bytes, *, tunnel_id: int = GBCS_TUNNEL_ID) -> bytes:
        """The next TransferData frame carrying `data`."""
        self._tsn = (self._tsn + 1) & 0xFF
        return transfer_data(self._tsn, data, direction=self.direction, tunnel_id=tunnel_id)


def parse_transfer_data(payload: bytes) -> tuple[int, bytes] | None:
    """(tunnel id, data) of a TransferData payload (after the ZCL header), or None."""
    if len(payload) < 2:
        return None
    return struct.unpack_from("<H", payload)[0], payload[2:]
