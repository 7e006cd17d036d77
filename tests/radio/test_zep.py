"""ZEP v2 encoding, `--zep` addresses, and the capture framing of messages longer than one frame
(the APS fragments ZEP must carry); no sockets here (tests/home/test_zep.py runs homes)."""

from __future__ import annotations

import struct

import crcmod
import pytest
import zigpy.types as t

from emulator.errors import CaptureError
from emulator.radio import zep
from emulator.radio.pcap import EPOCH, FRAGMENT_DATA, FrameBuilder

_kermit = crcmod.mkCrcFun(0x11021, initCrc=0x0000, rev=True, xorOut=0x0000)


def _packet(data: bytes, *, cluster: int = 0x0704, tsn: int = 5) -> t.ZigbeePacket:
    return t.ZigbeePacket(
        src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x1234),
        src_ep=9,
        dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=0x0000),
        dst_ep=1,
        tsn=tsn,
        profile_id=0x0109,
        cluster_id=cluster,
        data=t.SerializableBytes(data),
    )


def test_header_is_zep_v2_data_in_crc_mode():
    frame = bytes(range(20))
    datagram = zep.encode(frame, now=1.5, sequence=7)
    assert len(datagram) == 32 + len(frame) and datagram[32:] == frame
    assert datagram[:2] == b"EX"
    assert datagram[2] == 2  # version
    assert datagram[3] == 1  # type: data
    assert datagram[4] == zep.CHANNEL == 15
    assert datagram[5:7] == bytes(2)  # device id, big-endian
    assert datagram[7] == 1  # CRC mode: the frame ends in its FCS
    assert datagram[8] == 0xFF  # LQI
    seconds, fraction = struct.unpack(">II", datagram[9:17])
    assert seconds == EPOCH + 2_208_988_800 + 1 and fraction == 1 << 31  # NTP: 1900 epoch
    assert struct.unpack(">I", datagram[17:21]) == (7,)
    assert datagram[21:31] == bytes(10)
    assert datagram[31] == len(frame)


@pytest.mark.parametrize("micros", [0, 1, 1760, 499_999, 500_000, 999_999])
def test_timestamp_reads_back_as_the_pcaps_microseconds(micros):
    """Wireshark turns the NTP fraction into nanoseconds by truncation; rounding the fraction
    up makes it show exactly the microseconds the pcap records."""
    datagram = zep.encode(b"\x00\x00", now=12 + micros / 1_000_000, sequence=1)
    seconds, fraction = struct.unpack(">II", datagram[9:17])
    assert seconds - 2_208_988_800 == EPOCH + 12
    assert (fraction * 1_000_000_000) >> 32 == micros * 1000


@pytest.mark.parametrize(
    "text, address",
    [
        ("127.0.0.1:17754", ("127.0.0.1", 17754)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:65535", ("::1", 65535)),
    ],
)
def test_addresses(text, address):
    assert zep.parse_address(text) == address


@pytest.mark.parametrize(
    "text, words",
    [
        ("127.0.0.1", "is not HOST:PORT"),
        (":17754", "is not HOST:PORT"),
        ("::1:17754", "is not HOST:PORT"),  # IPv6 needs brackets
        ("127.0.0.1:", "the port must be"),
        ("127.0.0.1:0", "the port must be"),
        ("127.0.0.1:65536", "the port must be"),
        ("127.0.0.1:-1", "the port must be"),
        ("127.0.0.1:١٢", "the port must be"),  # digits, but not ASCII ones
    ],
)
def test_bad_addresses(text, words):
    with pytest.raises(CaptureError, match=words):
        zep.parse_address(text)


def test_a_frame_that_fits_is_the_pcaps_frame():
    packet = _packet(bytes(range(60)))
    assert FrameBuilder().frames(packet) == [FrameBuilder().frame(packet)]


def test_a_longer_message_goes_as_aps_fragments():
    """As a real network sends a GBCS message on SE Tunneling: fragments of at most 71 octets
    of message, an extended APS header (first: the block count; then: the block number), one
    APS counter, each frame a whole 802.15.4 frame of at most 127 octets with its FCS."""
    message = bytes(i & 0xFF for i in range(300))
    whole = FrameBuilder().frame(_packet(message, tsn=0x42))
    frames = FrameBuilder().frames(_packet(message, tsn=0x42))
    assert len(whole) > 127
    assert len(frames) == -(-len(message) // FRAGMENT_DATA) == 5
    data = b""
    for n, frame in enumerate(frames):
        assert len(frame) <= 127
        assert struct.unpack("<H", frame[-2:]) == (_kermit(frame[:-2]),)
        assert frame[2] == n + 1 and frame[16] == n + 1  # MAC and NWK sequence numbers
        aps = frame[17:-2]
        assert aps[0] == 0x80  # data frame, unicast, extended header
        assert aps[1:8] == whole[18:25]  # endpoints, cluster, profile, APS counter
        assert aps[7] == 0x42
        assert aps[8:10] == (bytes([0b01, len(frames)]) if n == 0 else bytes([0b10, n]))
        assert len(aps[10:]) <= FRAGMENT_DATA
        data += aps[10:]
    assert data == message


def test_a_host_that_does_not_resolve_is_a_capture_error():
    with pytest.raises(CaptureError, match="cannot resolve"):
        zep.resolve("local\0host", 17754)  # refused before any lookup
