"""Stream the air's traffic live as ZEP v2 over UDP, so Wireshark shows a running home.

ZEP (the ZigBee Encapsulation Protocol of Exegin's sniffers) is what Wireshark dissects on UDP
port 17754: each datagram is a 32-octet header, then one IEEE 802.15.4 frame. The header, all
fields big-endian:

    "EX" | version 2 | type 1 (data) | channel | device id (2) | LQI/CRC mode | LQI |
    NTP timestamp (8) | sequence number (4) | reserved (10) | frame length (1)

The frames are the pcap writer's (`radio.pcap.FrameBuilder`: 802.15.4 + unsecured NWK + APS, the
real CRC-16/KERMIT FCS last). The length octet has 7 bits, so a message longer than one 127-octet
frame (a GBCS message on SE Tunneling, which the virtual air carries whole and the pcap keeps as
one long record) goes as the APS fragments a real network sends, which Wireshark reassembles.
The mode octet is 1, "CRC": the frame's last two octets are its FCS, which Wireshark's 802.15.4
dissector checks (mode 0, "LQI", would have it read them as TI CC24xx RSSI/LQI metadata). The
timestamp is the pcap's (`radio.pcap.capture_time`: scenario time after a fixed epoch) in NTP
form, rounded up so that Wireshark shows the same microseconds; the sequence number counts
datagrams from 1, so a gap is a datagram the receiver lost.

Sending never stalls or ends a run. The socket is non-blocking and unconnected: nobody need
listen (Wireshark sniffing `lo` binds no port), and an unconnected socket never hears the
"port unreachable" answers, where a connected one would fail every other send with
ConnectionRefusedError and lose those frames. A datagram the system refuses anyway (a full
buffer, no route) is counted in `failed`, its error kept in `error`, and the run goes on.

`ZepSink(host, port)` is a capture like the pcap writer: the air calls it with each packet and
the loop's time (`capture(packet, now)`, or the sink itself). Any address is allowed; the
stream is plain UDP with no authentication, so anything but loopback puts the home's frames on
the network. This module owns the ZEP encoding and the socket; it never changes or drops a
packet.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import zigpy.types as t

from emulator.errors import CaptureError
from emulator.radio.pcap import PAN_ID, FrameBuilder, capture_time

ZEP_PORT = 17754
"""The UDP port Wireshark dissects as ZEP without being told."""
CHANNEL = 15
"""The 802.15.4 channel of the virtual network (`radio.virtual`)."""
DEVICE_ID = 0
"""The capture's "device id" (the sniffer that saw the frame): hanemu is one sniffer."""
LQI = 0xFF
NTP_UNIX_OFFSET = 2_208_988_800
"""Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01)."""
HEADER = struct.Struct(">2sBBBHBBQI10sB")
VERSION = 2
TYPE_DATA = 1
MODE_CRC = 1


def encode(
    frame: bytes,
    *,
    now: float,
    sequence: int,
    channel: int = CHANNEL,
    device_id: int = DEVICE_ID,
    lqi: int = LQI,
) -> bytes:
    """One ZEP v2 data datagram carrying `frame` (an 802.15.4 frame ending in its FCS), stamped
    with scenario time `now`."""
    seconds, micros = capture_time(now)
    fraction = -(-(micros << 32) // 1_000_000)  # rounded up: read back, the same microseconds
    ntp = ((seconds + NTP_UNIX_OFFSET) << 32) | fraction
    header = HEADER.pack(
        b"EX",
        VERSION,
        TYPE_DATA,
        channel,
        device_id,
        MODE_CRC,
        lqi,
        ntp,
        sequence & 0xFFFFFFFF,
        bytes(10),
        len(frame),
    )
    return header + frame


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (an IPv6 address in brackets: `[::1]:17754`) as (host, port); a one-line
    `CaptureError` for anything else."""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""  # an IPv6 address needs brackets, or the port is ambiguous
    if not sep or not host:
        raise CaptureError(
            f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:{ZEP_PORT}, [::1]:{ZEP_PORT})"
        )
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise CaptureError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def resolve(host: str, port: int) -> tuple[socket.AddressFamily, Any]:
    """The socket family and address to send to `host`:`port`, or a one-line `CaptureError`."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise CaptureError(f"cannot resolve {host!r}: {reason}") from None
    family, _type, _proto, _name, address = found[0]
    return family, address


class ZepSink:
    """Sends each captured packet as one ZEP v2 datagram to `host`:`port`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        channel: int = CHANNEL,
        device_id: int = DEVICE_ID,
        pan_id: int = PAN_ID,
    ) -> None:
        family, self.address = resolve(host, port)
        self.host = host
        self.port = port
        self.channel = channel
        self.device_id = device_id
        self.builder = FrameBuilder(pan_id=pan_id)
        self.frames = 0
        """Packets captured (a fragmented message is one)."""
        self.datagrams = 0
        """Datagrams built: one per frame, fragments included (the last sequence number)."""
        self.sent = 0
        self.failed = 0
        """Datagrams the system refused to send (the run went on)."""
        self.error: OSError | None = None
        """The first refusal."""
        self._sock: socket.socket | None = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def __call__(self, packet: t.ZigbeePacket, now: float) -> None:
        self.capture(packet, now)

    def capture(self, packet: t.ZigbeePacket, now: float) -> None:
        """Send `packet`, seen on the air at scenario time `now`."""
        self.frames += 1
        for frame in self.builder.frames(packet):
            self.datagrams += 1
            datagram = encode(
                frame,
                now=now,
                sequence=self.datagrams,
                channel=self.channel,
                device_id=self.device_id,
            )
            self._send(datagram)

    def _send(self, datagram: bytes) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto(datagram, self.address)
        except OSError as exc:  # a full buffer, no route, ...: the run goes on
            self.failed += 1
            if self.error is None:
                self.error = exc
        else:
            self.sent += 1

    def close(self) -> None:
        """Close the socket; later frames are counted, not sent."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> ZepSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def summary(self) -> str:
        """One line: where the stream went and what was not sent."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        line = (
            f"ZEP: {self.frames} frames as {self.datagrams} datagrams to {host}:{self.port}, "
            f"{self.sent} sent"
        )
        if self.failed:
            line += f" ({self.failed} refused: {self.error})"
        return line
