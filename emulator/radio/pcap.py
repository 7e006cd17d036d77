"""Write the air's traffic as a pcap file Wireshark dissects down to ZCL.

Each packet becomes one IEEE 802.15.4 data frame (link type 195, `LINKTYPE_IEEE802_15_4_WITHFCS`)
carrying an unsecured ZigBee NWK header, an APS data header (endpoints, cluster, profile, APS
counter) and the packet's ZDO or ZCL bytes unchanged, with the CRC-16/KERMIT FCS. The virtual
radio has no MAC or NWK layer of its own, so this module makes up the fields those layers would
carry (sequence numbers, radius) deterministically; everything from APS up is what was sent.
Timestamps are the loop's time (virtual seconds) after a fixed epoch, so the same run writes the
same bytes. `FrameBuilder` and `capture_time` are the framing and the clock of every capture: the
live ZEP stream (`radio.zep`) sends the same frames with the same times, except that a carrier
limited to 127-octet frames gets a message longer than one frame (a GBCS message on SE
Tunneling, which the virtual air carries whole) as the APS fragments a real network sends; this
file keeps one record per packet.

The file is written whole or not at all (`emulator.outputs.AtomicFile`): records go to a
temporary file beside the target, each in one write, and `close()` renames it into place, so the
file holds only complete records; `discard()` (an abandoned run) removes it. A write the system
refuses (a full disk) is kept as `error`, ends the writing, calls `on_error` once, and is raised
by `close()` as one `OutputError` naming the file.

This module owns framing and writing the file; it never changes or drops a packet.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import crcmod
import zigpy.types as t

from emulator import framesize
from emulator.errors import HanemuError
from emulator.outputs import AtomicFile

LINKTYPE_IEEE802_15_4_WITHFCS = 195
PAN_ID = 0x1A62
EPOCH = 1_767_225_600
"""2026-01-01T00:00:00Z: virtual time 0 in the capture."""
BROADCAST_MAC = 0xFFFF
APS_EXTENDED_HEADER = 0x80
"""APS frame control: an extended header (fragmentation) follows the APS counter."""
FRAGMENT_DATA = (
    framesize.max_aps_payload(framesize.SMART_ENERGY) - framesize.APS_FRAGMENTATION_HEADER
)
"""Octets of a fragmented message per fragment: what one APS-encrypted SE frame holds (71), so
a capture shows as many fragments as the air's time model counts."""
_OVERHEAD = framesize.MAC_HEADER + framesize.NWK_HEADER + framesize.MAC_FCS
"""A captured frame's octets besides its APS header and data: no NWK security."""

_fcs = crcmod.mkCrcFun(0x11021, initCrc=0x0000, rev=True, xorOut=0x0000)  # CRC-16/KERMIT


def _address(addr: t.AddrModeAddress | None, fallback: int) -> int:
    if addr is None:
        return fallback
    if addr.addr_mode in (t.AddrMode.NWK, t.AddrMode.Broadcast, t.AddrMode.Group):
        return int(addr.address)
    return fallback


def capture_time(now: float) -> tuple[int, int]:
    """The capture's timestamp of scenario time `now`: whole seconds since the Unix epoch (time 0
    is `EPOCH`) and microseconds, so the same run stamps the same times."""
    seconds, micros = divmod(round(now * 1_000_000), 1_000_000)
    return EPOCH + seconds, micros


class FrameBuilder:
    """Frames air packets as IEEE 802.15.4 + unsecured ZigBee NWK + APS, the one framing every
    capture (this pcap writer, `radio.zep.ZepSink`) uses. It numbers MAC and NWK frames itself,
    so two builders fed the same packets build the same bytes."""

    def __init__(self, *, pan_id: int = PAN_ID) -> None:
        self.pan_id = pan_id
        self._mac_seq = 0
        self._nwk_seq = 0

    def frame(self, packet: t.ZigbeePacket) -> bytes:
        """The 802.15.4 frame (with FCS) for one packet, however long."""
        return self._frame(packet, self._aps(packet), packet.data.serialize())

    def frames(
        self, packet: t.ZigbeePacket, *, max_psdu: int = framesize.PHY_MAX_PSDU
    ) -> list[bytes]:
        """The 802.15.4 frames for one packet, none over `max_psdu` octets: one frame, or, for
        a message longer than one frame (the air lets only unicast SE Tunneling messages be),
        its APS fragments as the network sends them: each fragment holds at most
        `FRAGMENT_DATA` octets of the message and an extended APS header (first fragment: the
        number of blocks; every other: its block number), all under one APS counter."""
        aps = self._aps(packet)
        data = packet.data.serialize()
        if _OVERHEAD + len(aps) + len(data) <= max_psdu:
            return [self._frame(packet, aps, data)]
        room = min(
            FRAGMENT_DATA, max_psdu - _OVERHEAD - len(aps) - framesize.APS_FRAGMENTATION_HEADER
        )
        blocks = [data[i : i + room] for i in range(0, len(data), max(room, 1))]
        if room < 1 or len(blocks) > 0xFF:
            raise ValueError(f"a {len(data)}-octet message does not fit 255 APS fragments")
        extended = bytes([aps[0] | APS_EXTENDED_HEADER]) + aps[1:]
        return [
            self._frame(
                packet,
                extended + (bytes([0b01, len(blocks)]) if n == 0 else bytes([0b10, n])),
                block,
            )
            for n, block in enumerate(blocks)
        ]

    def _aps(self, packet: t.ZigbeePacket) -> bytes:
        """The APS data header: delivery mode unicast (0), broadcast (2) or group (3)."""
        dst = _address(packet.dst, 0xFFFD)
        broadcast = packet.dst is not None and packet.dst.addr_mode == t.AddrMode.Broadcast
        group = packet.dst is not None and packet.dst.addr_mode == t.AddrMode.Group
        mode = 2 if broadcast else 3 if group else 0
        aps_fc = mode << 2
        if group:
            return struct.pack(
                "<BHHHBB",
                aps_fc,
                dst,
                packet.cluster_id,
                packet.profile_id or 0,
                packet.src_ep or 0,
                (packet.tsn or 0) & 0xFF,
            )
        return struct.pack(
            "<BBHHBB",
            aps_fc,
            packet.dst_ep or 0,
            packet.cluster_id,
            packet.profile_id or 0,
            packet.src_ep or 0,
            (packet.tsn or 0) & 0xFF,
        )

    def _frame(self, packet: t.ZigbeePacket, aps: bytes, data: bytes) -> bytes:
        """One MAC frame (the next MAC and NWK sequence numbers) carrying `aps` + `data`."""
        src = _address(packet.src, 0x0000)
        dst = _address(packet.dst, 0xFFFD)
        broadcast = packet.dst is not None and packet.dst.addr_mode == t.AddrMode.Broadcast
        group = packet.dst is not None and packet.dst.addr_mode == t.AddrMode.Group
        self._mac_seq = (self._mac_seq + 1) & 0xFF
        self._nwk_seq = (self._nwk_seq + 1) & 0xFF
        # MAC: data frame, PAN ID compression, short destination and source addresses; unicast
        # frames ask for a MAC acknowledgement.
        fcf = 0x0001 | 0x0040 | (2 << 10) | (2 << 14)
        mac_dst = BROADCAST_MAC if broadcast or group else dst
        if not (broadcast or group):
            fcf |= 0x0020
        mac = struct.pack("<HBHHH", fcf, self._mac_seq, self.pan_id, mac_dst, src)
        # NWK: data frame, protocol version 2, no security, radius 30.
        nwk = struct.pack("<HHHBB", 0x0008, dst, src, 30, self._nwk_seq)
        body = mac + nwk + aps + data
        return body + struct.pack("<H", _fcs(body))


class PcapWriter:
    """Appends packets to a classic pcap stream, one 802.15.4 frame each."""

    def __init__(
        self,
        stream: BinaryIO | AtomicFile,
        *,
        pan_id: int = PAN_ID,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.stream = stream
        self.pan_id = pan_id
        self.on_error = on_error
        self.error: Exception | None = None
        """The first write the system refused; nothing is written after it."""
        self.frames = 0
        self.builder = FrameBuilder(pan_id=pan_id)
        self._put(
            struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_IEEE802_15_4_WITHFCS)
        )

    @classmethod
    def open(cls, path: str | Path, *, on_error: Callable[[], None] | None = None) -> PcapWriter:
        """A capture written whole to `path` (a temporary file beside it until `close`)."""
        return cls(AtomicFile(path), on_error=on_error)

    def _put(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            self.stream.write(data)
        except (OSError, HanemuError) as exc:
            self.error = exc
            if self.on_error is not None:
                self.on_error()

    def close(self) -> None:
        """Put the complete file in place; raise the write error instead if there was one."""
        stream = self.stream
        if self.error is not None:
            self.discard()
            raise self.error
        if isinstance(stream, AtomicFile):
            stream.commit()
        else:
            stream.close()

    def discard(self) -> None:
        """Write nothing (an abandoned run): the target is left as it was."""
        if isinstance(self.stream, AtomicFile):
            self.stream.discard()
        else:
            self.stream.close()

    def __call__(self, packet: t.ZigbeePacket, now: float) -> None:
        self.write(packet, now)

    def frame(self, packet: t.ZigbeePacket) -> bytes:
        """The 802.15.4 frame (with FCS) for one packet."""
        return self.builder.frame(packet)

    def write(self, packet: t.ZigbeePacket, now: float) -> None:
        data = self.frame(packet)
        seconds, micros = capture_time(now)
        record = struct.pack("<IIII", seconds, micros, len(data), len(data)) + data
        self._put(record)  # header and data in one write
        if self.error is None:
            self.frames += 1
