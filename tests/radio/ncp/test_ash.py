"""ASH, NCP side: the wire format against UG101's own example frames, and AshNcp's behaviour
(reset, ACK/NAK, reject condition, duplicates, window, timers, ERROR) driven frame by frame on a
recording transport in virtual time. The interop tests with bellows' real host are in
test_ash_bellows.py."""

from __future__ import annotations

import asyncio
import binascii

import bellows.ash
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.radio import timeloop
from emulator.radio.ncp.ash import (
    ACK_TIMEOUTS,
    CANCEL,
    FLAG,
    MAX_DATA_LEN,
    RESERVED,
    SUBSTITUTE,
    T_RX_ACK_INIT,
    T_RX_ACK_MAX,
    XOFF,
    XON,
    Ack,
    AshNcp,
    Data,
    Deframer,
    Error,
    Invalid,
    Nak,
    NcpState,
    Rst,
    RstAck,
    crc16,
    decode_frame,
    encode_frame,
    lfsr_sequence,
    randomise,
    stuff,
    unstuff,
)

h = bytes.fromhex

# --- wire format ------------------------------------------------------------------------------


def test_crc_is_ccitt_false_from_crcmod():
    assert crc16(b"123456789") == 0x29B1  # the CRC-CCITT (0xFFFF) check value
    for data in (b"", b"\x00", bytes(range(256)), b"\xc0"):
        assert crc16(data) == binascii.crc_hqx(data, 0xFFFF)


# UG101's example frames (docs.silabs.com uart-gateway-protocol-reference, §3 Frame Formats), as
# sent on the wire, and those the herdsman digest recorded (herdsman-ember.md §2).
WIRE_EXAMPLES = [
    (Rst(), "c0 38 bc 7e"),
    (RstAck(2, 0x02), "c1 02 02 9b 7b 7e"),
    (RstAck(2, 0x0B), "c1 02 0b 0a 52 7e"),
    (Ack(1), "81 60 59 7e"),
    (Ack(6, not_ready=True), "8e 91 b6 7e"),
    (Nak(6), "a6 34 dc 7e"),
    (Ack(0), "80 70 78 7e"),
    (Nak(0), "a0 54 7d 3a 7e"),  # CRC 54 1A: the CANCEL value is stuffed
    (Data(2, 5, False, h("00000002")), "25 42 21 a8 56 a6 09 7e"),  # EZSP version command
    (Data(0, 0, False, h("00000013")), "00 42 21 a8 47 8f fa 7e"),  # herdsman's first command
]


@pytest.mark.parametrize(("frame", "wire"), WIRE_EXAMPLES)
def test_example_frames_byte_for_byte(frame, wire):
    assert encode_frame(frame) == h(wire)
    assert Deframer().feed(h(wire)) == [frame]


def test_ug101_data_examples_without_randomisation():
    """UG101 shows DATA frames before randomisation too: only the CRC is checked here."""
    for body, crc in (("25 00 00 00 02", "1a ad"), ("53 00 80 00 02 02 11 30", "63 16")):
        assert crc16(h(body)).to_bytes(2, "big") == h(crc)


def test_ug101_errata_are_bad_crc():
    """Two of UG101's examples carry a wrong CRC (herdsman's own tests say so of the first):
    ERROR(1, 0x52) `C2 01 52 FA BD` and the randomised version response `53 42 A1 ... 96 23`.
    Both are refused; what hanemu sends for them has the right CRC; the data field of the second
    still de-randomises to UG101's version response."""
    assert decode_frame(h("c2 01 52 fa bd")) == Invalid("bad CRC", 0xC2)
    assert encode_frame(Error(1, 0x52)) == h("c2 01 52 cd 8d 7e")
    response = h("53 42 a1 a8 56 28 04 82 96 23")
    assert decode_frame(response) == Invalid("bad CRC", 0x53)
    assert randomise(response[1:-2]) == h("00 80 00 02 02 11 30")
    assert encode_frame(Data(5, 3, False, h("00800002021130"))) == h(
        "53 42 a1 a8 56 28 04 82 03 2a 7e"
    )


def test_stuffing_escapes_every_reserved_byte():
    for byte in (0x7E, 0x7D, 0x11, 0x13, 0x18, 0x1A):
        assert stuff(bytes([byte])) == bytes([0x7D, byte ^ 0x20])
        assert unstuff(bytes([0x7D, byte ^ 0x20])) == bytes([byte])
    assert stuff(b"\x00\x7f\xff") == b"\x00\x7f\xff"
    assert unstuff(h("7d 41")) is None  # escapes a byte that needs no escape
    assert unstuff(h("01 7d")) is None  # dangling escape


@given(st.binary(max_size=300))
def test_stuffing_round_trips_and_leaves_no_reserved_byte_but_escapes(data):
    stuffed = stuff(data)
    assert unstuff(stuffed) == data
    assert not (set(stuffed) - {0x7D}) & RESERVED


def test_randomisation_sequence():
    assert lfsr_sequence(8) == h("42 21 a8 54 2a 15 b2 59")
    # bellows' table (the real peer's own) agrees over its 256 bytes
    assert lfsr_sequence(256) == bytes(bellows.ash.PSEUDO_RANDOM_DATA_SEQUENCE)


@given(st.binary(max_size=400))
def test_randomisation_is_its_own_inverse(data):
    assert randomise(randomise(data)) == data


FRAMES = st.one_of(
    st.builds(
        Data,
        st.integers(0, 7),
        st.integers(0, 7),
        st.booleans(),
        st.binary(min_size=3, max_size=MAX_DATA_LEN),
    ),
    st.builds(Ack, st.integers(0, 7), st.booleans()),
    st.builds(Nak, st.integers(0, 7), st.booleans()),
    st.just(Rst()),
    st.builds(RstAck, st.integers(0, 255), st.integers(0, 255)),
    st.builds(Error, st.integers(0, 255), st.integers(0, 255)),
)


@given(st.lists(FRAMES, max_size=5), st.integers(1, 50))
def test_frames_round_trip_through_the_deframer_in_any_chunking(frames, chunk):
    wire = b"".join(encode_frame(f) for f in frames)
    deframer = Deframer()
    out = []
    for i in range(0, len(wire), chunk):
        out += deframer.feed(wire[i : i + chunk])
    assert out == frames


@given(st.binary(max_size=600))
def test_garbage_never_raises(data):
    assert isinstance(decode_frame(data), Data | Ack | Nak | Rst | RstAck | Error | Invalid)
    deframer = Deframer()
    for item in deframer.feed(data) + deframer.feed(bytes([FLAG])):
        assert isinstance(item, Data | Ack | Nak | Rst | RstAck | Error | Invalid)
    assert len(deframer._buf) == 0


def test_deframer_cancel_substitute_xon_xoff_and_overlong():
    ack = encode_frame(Ack(3))
    deframer = Deframer()
    # CANCEL discards the frame in progress (hosts send it before RST)
    assert deframer.feed(b"\x12\x34" + bytes([CANCEL]) + encode_frame(Rst())) == [Rst()]
    # SUBSTITUTE spoils the frame in progress, which is reported as invalid
    spoiled = deframer.feed(b"\x05" + bytes([SUBSTITUTE]) + ack)
    assert spoiled == [Invalid("substitute byte (communication error)", 0x05)]
    # XON and XOFF are dropped wherever they appear
    assert deframer.feed(bytes([XON]) + ack[:1] + bytes([XOFF]) + ack[1:]) == [Ack(3)]
    # a frame longer than any DATA frame is cut, reported once, and memory stays bounded
    out = deframer.feed(bytes([0x01]) * 5000 + bytes([FLAG]))
    assert out == [Invalid("frame too long", 0x01)]
    assert deframer.feed(ack) == [Ack(3)]


def test_data_field_length_limits():
    def raw(data: bytes) -> bytes:
        body = bytes([0x00]) + randomise(data)
        return body + crc16(body).to_bytes(2, "big")

    assert decode_frame(raw(b"\x01\x02")) == Invalid("DATA field of 2 bytes", 0x00)
    too_long = raw(bytes(MAX_DATA_LEN + 1))
    assert decode_frame(too_long) == Invalid(f"DATA field of {MAX_DATA_LEN + 1} bytes", 0x00)
    assert decode_frame(raw(bytes(MAX_DATA_LEN))) == Data(0, 0, False, bytes(MAX_DATA_LEN))


# --- the protocol -----------------------------------------------------------------------------


class Wire(asyncio.WriteTransport):
    """Records what the NCP writes and reads it back as frames."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self._read = 0

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.data += data

    def is_closing(self) -> bool:
        return False

    def take(self) -> list:
        """Frames written since the last call."""
        new = bytes(self.data[self._read :])
        self._read = len(self.data)
        return Deframer().feed(new)


class Harness:
    def __init__(self, **kwargs) -> None:
        self.delivered: list[bytes] = []
        self.resets = 0
        self.ncp = AshNcp(self.delivered.append, on_reset=self._reset, **kwargs)
        self.wire = Wire()
        self.ncp.connection_made(self.wire)

    def _reset(self) -> None:
        self.resets += 1

    def host(self, *frames) -> None:
        self.ncp.data_received(b"".join(encode_frame(f) for f in frames))

    def connect(self) -> None:
        self.ncp.data_received(bytes([CANCEL]) * 32 + encode_frame(Rst()))
        assert self.wire.take() == [RstAck(2, 0x0B)]


def run(test) -> None:
    """Run an async test body in virtual time."""
    timeloop.run(test())


EZSP = [bytes([i, 0x00, 0x01, 0x00, 0x00]) for i in range(20)]


def test_rst_is_answered_by_one_rstack_software_reset():
    async def body():
        t = Harness()
        t.ncp.data_received(bytes([CANCEL]) * 32 + encode_frame(Rst()))
        assert t.wire.take() == [RstAck(2, 0x0B)]
        assert t.wire.data == h("c1 02 0b 0a 52 7e")  # byte for byte what herdsman requires
        assert t.resets == 1 and t.ncp.state is NcpState.CONNECTED
        t.host(Rst())
        assert t.wire.take() == [RstAck(2, 0x0B)]
        assert t.resets == 2

    run(body)


def test_nothing_but_rst_is_answered_before_the_first_rst():
    async def body():
        t = Harness()
        t.host(Data(0, 0, False, EZSP[0]), Ack(0), Nak(0))
        t.ncp.send(EZSP[1])
        await asyncio.sleep(10)
        assert t.wire.take() == [] and t.delivered == []
        assert t.ncp.counters.ignored == 3 and t.ncp.counters.dropped_sends == 1
        t.connect()

    run(body)


def test_announce_power_on_sends_rstack_power_on_without_on_reset():
    async def body():
        t = Harness()
        t.ncp.announce_power_on()
        assert t.wire.take() == [RstAck(2, 0x02)]
        assert t.resets == 0 and t.ncp.state is NcpState.CONNECTED

    run(body)


def test_in_order_data_is_delivered_once_and_acked_after_t_tx_ack_delay():
    async def body():
        t = Harness()
        t.connect()
        t.host(Data(0, 0, False, EZSP[0]))
        assert t.delivered == [EZSP[0]]
        assert t.wire.take() == []  # not yet: an ACK waits 20 ms for a DATA frame to ride on
        await asyncio.sleep(0.019)
        assert t.wire.take() == []
        await asyncio.sleep(0.002)
        assert t.wire.take() == [Ack(1)]

    run(body)


def test_a_response_carries_the_acknowledgement():
    async def body():
        t = Harness()
        t.connect()
        t.ncp._on_frame = lambda frame: t.ncp.send(b"\x80" + frame)
        t.host(Data(0, 0, False, EZSP[0]))
        await asyncio.sleep(1)
        assert t.wire.take() == [Data(0, 1, False, b"\x80" + EZSP[0])]

    run(body)


def test_bad_crc_is_naked_once_until_an_in_sequence_frame_clears_the_reject_condition():
    async def body():
        t = Harness()
        t.connect()
        bad = bytearray(encode_frame(Data(0, 0, False, EZSP[0])))
        bad[2] ^= 0x01
        t.ncp.data_received(bytes(bad))
        assert t.wire.take() == [Nak(0)]
        t.ncp.data_received(bytes(bad))  # still in the reject condition: no second NAK
        t.host(Data(1, 0, False, EZSP[1]))  # out of sequence: no NAK either
        assert t.wire.take() == []
        t.host(Data(0, 0, True, EZSP[0]))  # the retransmission clears it
        t.host(Data(1, 0, True, EZSP[1]))
        assert t.delivered == [EZSP[0], EZSP[1]]
        t.ncp.data_received(bytes(bad))  # a new error is NAKed again
        assert Nak(2) in t.wire.take()
        assert t.ncp.counters.bad_frames == 3 and t.ncp.counters.naks_sent == 2

    run(body)


def test_bad_frames_that_are_not_data_are_counted_not_naked():
    async def body():
        t = Harness()
        t.connect()
        bad = bytearray(encode_frame(Ack(0)))
        bad[1] ^= 0x40
        t.ncp.data_received(bytes(bad) + b"\xff\xff\x7e")
        await asyncio.sleep(1)
        assert t.wire.take() == []
        assert t.ncp.counters.bad_frames == 2

    run(body)


def test_out_of_sequence_data_is_naked_and_not_delivered():
    async def body():
        t = Harness()
        t.connect()
        t.host(Data(1, 0, False, EZSP[1]))
        assert t.wire.take() == [Nak(0)]
        assert t.delivered == [] and t.ncp.counters.out_of_sequence == 1

    run(body)


def test_a_retransmitted_duplicate_is_acked_again_and_not_delivered_twice():
    async def body():
        t = Harness()
        t.connect()
        t.host(Data(0, 0, False, EZSP[0]))
        await asyncio.sleep(0.1)
        assert t.wire.take() == [Ack(1)]
        t.host(Data(0, 0, True, EZSP[0]))  # the host lost our ACK and sends the frame again
        assert t.wire.take() == [Ack(1)]
        assert t.delivered == [EZSP[0]]
        assert t.ncp.counters.duplicates == 1

    run(body)


def test_lost_ack_retransmits_after_t_rx_ack_which_doubles():
    async def body():
        t = Harness()
        t.connect()
        loop = asyncio.get_running_loop()
        start = loop.time()
        t.ncp.send(EZSP[0])
        assert t.wire.take() == [Data(0, 0, False, EZSP[0])]
        await asyncio.sleep(T_RX_ACK_INIT - 0.001)
        assert t.wire.take() == []
        await asyncio.sleep(0.002)
        retransmission = bytes(t.wire.data[-len(encode_frame(Data(0, 0, True, EZSP[0]))) - 1 :])
        assert retransmission[0] == CANCEL  # a CANCEL byte clears the line before it
        assert t.wire.take() == [Data(0, 0, True, EZSP[0])]
        assert t.ncp.t_rx_ack == T_RX_ACK_MAX  # 1.6 s doubled
        t.host(Ack(1))
        await asyncio.sleep(60)
        assert t.wire.take() == []
        assert t.ncp.counters.retransmissions == 1 and t.ncp.counters.ack_timeouts == 1
        assert loop.time() - start > 60

    run(body)


def test_t_rx_ack_follows_the_measured_round_trip():
    async def body():
        t = Harness()
        t.connect()
        t.ncp.send(EZSP[0])
        await asyncio.sleep(0.2)
        t.host(Ack(1))
        assert t.ncp.t_rx_ack == pytest.approx(T_RX_ACK_INIT * 7 / 8 + 0.2 / 2)

    run(body)


def test_nak_retransmits_every_unacknowledged_frame_at_once():
    async def body():
        t = Harness()
        t.connect()
        for frame in EZSP[:3]:
            t.ncp.send(frame)
        assert [f.frm_num for f in t.wire.take()] == [0, 1, 2]
        t.host(Nak(1))  # frame 0 arrived, frame 1 did not
        assert t.wire.take() == [Data(1, 0, True, EZSP[1]), Data(2, 0, True, EZSP[2])]
        assert t.ncp.counters.naks_received == 1

    run(body)


def test_window_of_five_and_frame_numbers_wrap():
    async def body():
        t = Harness()
        t.connect()
        for frame in EZSP[:13]:
            t.ncp.send(frame)
        assert [f.frm_num for f in t.wire.take()] == [0, 1, 2, 3, 4]
        t.host(Ack(2))
        assert [f.frm_num for f in t.wire.take()] == [5, 6]
        t.host(Ack(7))
        assert [f.frm_num for f in t.wire.take()] == [7, 0, 1, 2, 3]
        t.host(Ack(4))
        sent = t.wire.take()
        assert [f.frm_num for f in sent] == [4]
        assert sent[0].payload == EZSP[12]

    run(body)


def test_window_of_one():
    async def body():
        t = Harness(window=1)
        t.connect()
        t.ncp.send(EZSP[0])
        t.ncp.send(EZSP[1])
        assert t.wire.take() == [Data(0, 0, False, EZSP[0])]
        t.host(Data(0, 1, False, EZSP[5]))  # the host's DATA carries the acknowledgement
        assert t.wire.take() == [Data(1, 1, False, EZSP[1])]

    run(body)


def test_ack_outside_the_window_is_a_bad_frame():
    async def body():
        t = Harness()
        t.connect()
        t.ncp.send(EZSP[0])
        t.wire.take()
        t.host(Ack(5))  # acknowledges frames never sent: ignored
        t.host(Data(0, 5, False, EZSP[0]))  # a DATA frame with such an ackNum is NAKed
        assert t.wire.take() == [Nak(0)]
        assert t.delivered == [] and t.ncp.counters.bad_frames == 2

    run(body)


def test_error_after_ack_timeouts_in_a_row_then_only_rst_is_answered():
    async def body():
        t = Harness()
        t.connect()
        t.ncp.send(EZSP[0])
        await asyncio.sleep(60)
        frames = t.wire.take()
        # ACK_TIMEOUTS timeouts in a row are allowed (each one retransmits); the next is one too
        # many (EmberZNet's ash-ncp.c: ++ashTimeouts > maxTimeouts), so ERROR.
        assert frames == [Data(0, 0, False, EZSP[0])] + [Data(0, 0, True, EZSP[0])] * (
            ACK_TIMEOUTS
        ) + [Error(2, 0x51)]
        assert t.ncp.counters.ack_timeouts == ACK_TIMEOUTS + 1
        assert t.wire.data.endswith(encode_frame(Error(2, 0x51)))
        assert t.ncp.state is NcpState.FAILED
        assert t.ncp.counters.errors_sent == 1
        t.host(Data(0, 0, False, EZSP[1]))
        t.ncp.send(EZSP[2])
        await asyncio.sleep(10)
        assert t.wire.take() == [] and t.delivered == []
        t.connect()
        t.ncp.send(EZSP[3])
        assert t.wire.take() == [Data(0, 0, False, EZSP[3])]

    run(body)


def test_a_host_that_answers_keeps_the_ncp_out_of_failed():
    """Timeouts count only while nothing valid comes from the host (here: a noisy line eats
    every copy of frame 0 but the host's ACKs of later frames arrive)."""

    async def body():
        t = Harness()
        t.connect()
        t.ncp.send(EZSP[0])
        for _ in range(ACK_TIMEOUTS * 3):
            await asyncio.sleep(T_RX_ACK_MAX)
            t.host(Ack(0))
        assert t.ncp.state is NcpState.CONNECTED
        assert t.ncp.counters.ack_timeouts >= ACK_TIMEOUTS * 2

    run(body)


def test_ack_timeouts_zero_never_fails():
    async def body():
        t = Harness(ack_timeouts=0)
        t.connect()
        t.ncp.send(EZSP[0])
        await asyncio.sleep(600)
        assert t.ncp.state is NcpState.CONNECTED

    run(body)


def test_not_ready_flag_is_recorded_for_t_remote_notrdy():
    async def body():
        t = Harness()
        t.connect()
        assert t.ncp.host_ready
        t.host(Ack(0, not_ready=True))
        assert not t.ncp.host_ready
        await asyncio.sleep(1.0)
        assert t.ncp.host_ready
        t.host(Nak(0, not_ready=True), Ack(0))
        assert t.ncp.host_ready

    run(body)


def test_send_refuses_frames_no_host_takes():
    async def body():
        t = Harness()
        t.connect()
        with pytest.raises(ValueError):
            t.ncp.send(b"\x00\x01")
        with pytest.raises(ValueError):
            t.ncp.send(bytes(MAX_DATA_LEN + 1))

    run(body)


def test_reset_drops_what_was_queued_and_restarts_numbering():
    async def body():
        t = Harness()
        t.connect()
        for frame in EZSP[:7]:
            t.ncp.send(frame)
        t.host(Data(0, 0, False, EZSP[9]))
        t.wire.take()
        t.connect()
        await asyncio.sleep(10)
        assert t.wire.take() == []  # nothing of the old session is sent or retransmitted
        t.ncp.send(EZSP[1])
        t.host(Data(0, 0, False, EZSP[2]))
        assert t.wire.take() == [Data(0, 0, False, EZSP[1])]
        assert t.delivered == [EZSP[9], EZSP[2]]

    run(body)
