"""ASH, the NCP side: the link layer between a host stack and hanemu's emulated EZSP NCP.

ASH (Silicon Labs UG101, "UART Gateway Protocol Reference") carries EZSP frames over a byte
stream. This module owns, for the NCP end of one TCP connection:

- the wire format, as pure functions: byte stuffing of the reserved bytes (FLAG 0x7E, ESCAPE
  0x7D, XON 0x11, XOFF 0x13, SUBSTITUTE 0x18, CANCEL 0x1A as `7D, b ^ 0x20`), the DATA field's
  pseudo-random XOR sequence (LFSR seeded 0x42), the CRC-CCITT (poly 0x1021, init 0xFFFF, not
  reflected, big-endian after the data) computed with crcmod, and `encode_frame`/`decode_frame`;
- `Deframer`, which cuts a byte stream into frames and never raises: a bad frame comes out as
  `Invalid` with the reason;
- `AshNcp`, the asyncio protocol: RST answered by RSTACK, in-order delivery of the host's DATA
  frames exactly once, ACK/NAK, a window of unacknowledged DATA frames towards the host with the
  adaptive ACK timer, retransmission, and the ERROR frame when the host stops acknowledging.

Choices, where UG101 leaves room or the hosts impose rules (shared/spec/herdsman-ember.md §0–2,
zigpy-bellows.md §5.3):

- Every RST (alone or after CANCEL bytes) is answered by exactly one RSTACK(version 2, reset
  code 0x0B RESET_SOFTWARE): herdsman accepts no other code after its RST, bellows accepts any.
  The NCP never sends an RSTACK on its own, except through `announce_power_on`, whose code 0x02
  (RESET_POWER_ON) herdsman ignores before its RST and bellows on `socket://` takes as the
  zigbeed-style start-up reset.
- Until the host's first RST the NCP is not connected: DATA, ACK and NAK are counted and
  ignored, with no ERROR (both hosts reset first; an ERROR is fatal to them once connected).
- ERROR(2, 0x51 ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT) is sent only when more than
  ACK_TIMEOUTS (4) ACK timers expire in a row with no valid frame from the host in between:
  UG101 calls ACK_TIMEOUTS the consecutive timeouts allowed, and EmberZNet's NCP fails on the
  next one (ash-ncp.c: `++ashTimeouts > maxTimeouts`), so the 5th in a row. EmberZNet counts
  afresh only when an acknowledgement advances; here any valid frame from the host does (a host
  that still ACKs or NAKs is alive, however noisy the line). The NCP is then FAILED and answers
  nothing but RST.
- Timers are UG101's: t_rx_ack starts at 1.6 s, stays within 0.4–3.2 s, becomes
  7/8·t + 1/2·rtt on an acknowledgement (rtt of a frame never retransmitted) and doubles on
  expiry; an ACK not carried by a DATA frame goes out T_TX_ACK_DELAY (20 ms) after the frame it
  acknowledges; TX_K = 5 DATA frames may be unacknowledged. Every timer is `loop.call_later` on
  the running loop, so the layer runs in virtual time (radio/timeloop.py) as in real time.
- A bad frame (CRC, length, stuffing, SUBSTITUTE) whose control byte says DATA, and a DATA frame
  out of sequence that is not a retransmission, get one NAK and put the NCP in the reject
  condition (no further NAK until an in-sequence DATA frame); a retransmitted duplicate is
  ACKed again and not delivered. Retransmissions are preceded by a CANCEL byte, as herdsman's
  host does, so garbage left on the line cannot swallow them.
- The host's nRdy flag is recorded (`host_ready`), not acted on: only the EZSP layer knows which
  frames are callbacks UG101 says to hold.
- `window`, `ack_delay` and `ack_timeouts` are keyword options for tests and fault runs; the
  defaults are UG101's. On a noisy line the limits bite on long frames: at 1 % of bytes damaged
  a 90-byte frame fails about 60 % of tries, so 5 silent timeouts in a row (here) or bellows' 5
  failed tries of one frame (its own limit, which ends its session) become likely over a run.

This module never interprets EZSP, never reads wall time (only the loop's clock) and never
raises on anything a peer sends.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import crcmod

_LOGGER = logging.getLogger(__name__)

FLAG = 0x7E
ESCAPE = 0x7D
XON = 0x11
XOFF = 0x13
SUBSTITUTE = 0x18
CANCEL = 0x1A
RESERVED = frozenset({FLAG, ESCAPE, XON, XOFF, SUBSTITUTE, CANCEL})
_FLIP = 0x20

ASH_VERSION = 2
RESET_POWER_ON = 0x02
RESET_SOFTWARE = 0x0B
ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT = 0x51

T_RX_ACK_INIT = 1.6
T_RX_ACK_MIN = 0.4
T_RX_ACK_MAX = 3.2
T_TX_ACK_DELAY = 0.020
T_REMOTE_NOTRDY = 1.0
TX_K = 5
ACK_TIMEOUTS = 4
"""Consecutive ACK timeouts allowed (nothing valid heard from the host in between); one more
sends ERROR. UG101: 0 means never."""

MIN_DATA_LEN = 3
"""The shortest EZSP frame (legacy: sequence, frame control, frame id)."""
MAX_DATA_LEN = 220
"""The longest EZSP frame hosts take (herdsman's EZSP_MAX_FRAME_LENGTH; UG101 says 128 for
older stacks, bellows accepts 256)."""
_MAX_RAW_LEN = 1 + MAX_DATA_LEN + 2
"""Control byte, data field and CRC: the most a frame holds once unstuffed."""

crc16 = crcmod.mkCrcFun(0x11021, initCrc=0xFFFF, rev=False, xorOut=0x0000)
"""CRC-CCITT as ASH computes it over the control byte and data field."""


# --- pure helpers -------------------------------------------------------------------------------


def stuff(data: bytes) -> bytes:
    """Escape every reserved byte as ESCAPE, byte ^ 0x20."""
    out = bytearray()
    for byte in data:
        if byte in RESERVED:
            out.append(ESCAPE)
            out.append(byte ^ _FLIP)
        else:
            out.append(byte)
    return bytes(out)


def unstuff(data: bytes) -> bytes | None:
    """Undo `stuff`; None when an escape is dangling or does not stand for a reserved byte."""
    out = bytearray()
    escaped = False
    for byte in data:
        if escaped:
            value = byte ^ _FLIP
            if value not in RESERVED:
                return None
            out.append(value)
            escaped = False
        elif byte == ESCAPE:
            escaped = True
        else:
            out.append(byte)
    return None if escaped else bytes(out)


def lfsr_sequence(length: int) -> bytes:
    """The first `length` bytes of ASH's pseudo-random sequence: 0x42, 0x21, 0xA8, 0x54, ..."""
    out = bytearray()
    value = 0x42
    for _ in range(length):
        out.append(value)
        value = (value >> 1) ^ 0xB8 if value & 1 else value >> 1
    return bytes(out)


_SEQUENCE = lfsr_sequence(256)


def randomise(data: bytes) -> bytes:
    """XOR a DATA field with the pseudo-random sequence (its own inverse)."""
    n = len(data)
    if n == 0:
        return b""
    sequence = _SEQUENCE if n <= len(_SEQUENCE) else lfsr_sequence(n)
    mixed = int.from_bytes(data, "big") ^ int.from_bytes(sequence[:n], "big")
    return mixed.to_bytes(n, "big")


def with_crc(body: bytes) -> bytes:
    """The control byte and data field followed by their CRC, big-endian."""
    return body + crc16(body).to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class Data:
    """DATA(frmNum, ackNum, reTx) carrying one EZSP frame (held here not randomised)."""

    frm_num: int
    ack_num: int
    re_tx: bool
    payload: bytes


@dataclass(frozen=True, slots=True)
class Ack:
    ack_num: int
    not_ready: bool = False


@dataclass(frozen=True, slots=True)
class Nak:
    ack_num: int
    not_ready: bool = False


@dataclass(frozen=True, slots=True)
class Rst:
    pass


@dataclass(frozen=True, slots=True)
class RstAck:
    version: int
    code: int


@dataclass(frozen=True, slots=True)
class Error:
    version: int
    code: int


@dataclass(frozen=True, slots=True)
class Invalid:
    """Bytes between two flags that are not a frame; `control` is their first byte, if any."""

    reason: str
    control: int | None = None

    @property
    def looks_like_data(self) -> bool:
        return self.control is not None and not self.control & 0x80


Frame = Data | Ack | Nak | Rst | RstAck | Error


def control_byte(frame: Frame) -> int:
    if isinstance(frame, Data):
        return (frame.frm_num & 7) << 4 | int(frame.re_tx) << 3 | (frame.ack_num & 7)
    if isinstance(frame, Ack | Nak):
        base = 0x80 if isinstance(frame, Ack) else 0xA0
        return base | int(frame.not_ready) << 3 | (frame.ack_num & 7)
    if isinstance(frame, Rst):
        return 0xC0
    if isinstance(frame, RstAck):
        return 0xC1
    return 0xC2


def frame_body(frame: Frame) -> bytes:
    """Control byte, data field (randomised for DATA) and CRC, before stuffing."""
    control = bytes([control_byte(frame)])
    if isinstance(frame, Data):
        return with_crc(control + randomise(frame.payload))
    if isinstance(frame, RstAck | Error):
        return with_crc(control + bytes([frame.version, frame.code]))
    return with_crc(control)


def encode_frame(frame: Frame) -> bytes:
    """The bytes on the wire: stuffed body and a FLAG."""
    return stuff(frame_body(frame)) + bytes([FLAG])


def decode_frame(raw: bytes) -> Frame | Invalid:
    """Read one unstuffed frame (control, data, CRC; no FLAG). Never raises."""
    if not raw:
        return Invalid("empty frame")
    control = raw[0]
    if len(raw) < 3:
        return Invalid(f"too short ({len(raw)} bytes)", control)
    if crc16(raw[:-2]) != int.from_bytes(raw[-2:], "big"):
        return Invalid("bad CRC", control)
    data = raw[1:-2]
    if not control & 0x80:
        if not MIN_DATA_LEN <= len(data) <= MAX_DATA_LEN:
            return Invalid(f"DATA field of {len(data)} bytes", control)
        return Data(control >> 4 & 7, control & 7, bool(control & 0x08), randomise(data))
    if control & 0xC0 == 0x80:
        if data:
            return Invalid("ACK/NAK with a data field", control)
        not_ready = bool(control & 0x08)
        if control & 0x20:
            return Nak(control & 7, not_ready)
        return Ack(control & 7, not_ready)
    if control == 0xC0:
        return Rst() if not data else Invalid("RST with a data field", control)
    if control in (0xC1, 0xC2):
        if len(data) != 2:
            return Invalid(f"RSTACK/ERROR data field of {len(data)} bytes", control)
        return (RstAck if control == 0xC1 else Error)(data[0], data[1])
    return Invalid(f"unknown control byte 0x{control:02X}", control)


class Deframer:
    """Cuts a byte stream into frames as UG101 says a receiver does.

    FLAG ends a frame; CANCEL discards the frame in progress; SUBSTITUTE (a byte the UART lost)
    spoils the frame in progress; XON and XOFF are dropped (TCP has no software flow control);
    a frame longer than any valid one is cut short and reported. Memory stays bounded whatever
    arrives.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._escaped = False
        self._spoiled: str | None = None
        self._first: int | None = None

    def _clear(self) -> None:
        self._buf.clear()
        self._escaped = False
        self._spoiled = None
        self._first = None

    def feed(self, data: bytes) -> list[Frame | Invalid]:
        out: list[Frame | Invalid] = []
        for byte in data:
            if byte == FLAG:
                if self._spoiled is not None:
                    out.append(Invalid(self._spoiled, self._first))
                elif self._escaped:
                    out.append(Invalid("escape before flag", self._first))
                elif self._buf:
                    out.append(decode_frame(bytes(self._buf)))
                self._clear()
            elif byte == CANCEL:
                self._clear()
            elif byte in (XON, XOFF):
                continue
            elif byte == SUBSTITUTE:
                if self._spoiled is None:
                    self._spoiled = "substitute byte (communication error)"
            elif self._spoiled is not None:
                continue
            elif byte == ESCAPE:
                if self._escaped:
                    self._spoiled = "escape after escape"
                self._escaped = True
            else:
                if self._escaped:
                    byte ^= _FLIP
                    self._escaped = False
                    if byte not in RESERVED:
                        self._spoiled = "escaped byte that is not reserved"
                if self._first is None:
                    self._first = byte
                if len(self._buf) >= _MAX_RAW_LEN:
                    self._spoiled = "frame too long"
                    self._buf.clear()
                else:
                    self._buf.append(byte)
        return out


# --- the protocol -------------------------------------------------------------------------------


class NcpState(enum.Enum):
    WAITING = "waiting"
    """Connected to a host that has not sent RST yet."""
    CONNECTED = "connected"
    FAILED = "failed"
    """ERROR sent; only RST is answered."""
    CLOSED = "closed"


@dataclass(slots=True)
class AshCounters:
    """What happened on one connection (for tests, reports and debugging)."""

    data_received: int = 0
    """In-sequence DATA frames delivered upward."""
    data_sent: int = 0
    """DATA frames sent for the first time."""
    retransmissions: int = 0
    duplicates: int = 0
    """Retransmitted DATA frames already delivered: ACKed again, not delivered."""
    out_of_sequence: int = 0
    bad_frames: int = 0
    acks_sent: int = 0
    naks_sent: int = 0
    naks_received: int = 0
    ack_timeouts: int = 0
    errors_sent: int = 0
    """ERROR frames sent: the NCP gave up on a silent host and went FAILED."""
    resets: int = 0
    ignored: int = 0
    """Frames that have no meaning in the state they arrived in (e.g. DATA before RST)."""
    dropped_sends: int = 0
    """EZSP frames given to `send` while not connected."""


@dataclass(slots=True)
class _Outgoing:
    frm_num: int
    payload: bytes
    sent_at: float
    retransmitted: bool = False


def _distance(start: int, end: int) -> int:
    return (end - start) % 8


class AshNcp(asyncio.Protocol):
    """NCP side of ASH on a byte stream (a TCP connection)."""

    def __init__(
        self,
        on_frame: Callable[[bytes], None],
        *,
        on_reset: Callable[[], None] | None = None,
        window: int = TX_K,
        ack_delay: float = T_TX_ACK_DELAY,
        ack_timeouts: int = ACK_TIMEOUTS,
    ) -> None:
        if not 1 <= window <= 7:
            raise ValueError(f"ASH window must be 1 to 7 frames, not {window}")
        self._on_frame = on_frame
        self._on_reset = on_reset
        self._window = window
        self._ack_delay = ack_delay
        self._ack_timeouts = ack_timeouts
        self._transport: asyncio.BaseTransport | None = None
        self._deframer = Deframer()
        self.state = NcpState.WAITING
        self.counters = AshCounters()
        self._clear_link_state()

    def _clear_link_state(self) -> None:
        self._next_frm = 0  # frmTx: number of the next new DATA frame
        self._ack_rx = 0  # oldest frame number the host has not acknowledged
        self._rx_seq = 0  # frmRx: number of the host DATA frame expected next
        self._reject = False
        self._outstanding: deque[_Outgoing] = deque()
        self._queue: deque[bytes] = deque()
        self._t_rx_ack = T_RX_ACK_INIT
        self._timeouts = 0
        self._not_ready_until: float | None = None
        self._cancel_timers()

    def _cancel_timers(self) -> None:
        for name in ("_ack_timer", "_ack_delay_timer"):
            timer: asyncio.TimerHandle | None = getattr(self, name, None)
            if timer is not None:
                timer.cancel()
            setattr(self, name, None)

    # --- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self.state = NcpState.WAITING

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.state = NcpState.CLOSED
        self._clear_link_state()

    def data_received(self, data: bytes) -> None:
        for frame in self._deframer.feed(data):
            if self.state is NcpState.CLOSED:
                return
            self._receive(frame)

    # --- public ---------------------------------------------------------------------------------

    @property
    def t_rx_ack(self) -> float:
        """The current ACK timeout, seconds."""
        return self._t_rx_ack

    @property
    def host_ready(self) -> bool:
        """False for T_REMOTE_NOTRDY after an ACK or NAK with nRdy set (and until one clears it)."""
        if self._not_ready_until is None:
            return True
        return asyncio.get_running_loop().time() >= self._not_ready_until

    def send(self, frame: bytes) -> None:
        """Queue one EZSP frame to the host as ASH DATA (windowed, acknowledged, retransmitted)."""
        if not MIN_DATA_LEN <= len(frame) <= MAX_DATA_LEN:
            raise ValueError(
                f"an EZSP frame is {MIN_DATA_LEN} to {MAX_DATA_LEN} bytes, not {len(frame)}"
            )
        if self.state is not NcpState.CONNECTED:
            _LOGGER.debug("not connected (%s): dropping %s", self.state.value, frame.hex())
            self.counters.dropped_sends += 1
            return
        self._queue.append(bytes(frame))
        self._pump()

    def announce_power_on(self) -> None:
        """Send RSTACK(2, RESET_POWER_ON) unprompted, as an NCP does when it boots.

        bellows on `socket://` waits for this and then skips its own RST; herdsman ignores it
        (it only takes RESET_SOFTWARE, after its RST). `on_reset` is not called: nobody asked.
        """
        self._restart(RESET_POWER_ON)

    # --- receiving ------------------------------------------------------------------------------

    def _receive(self, frame: Frame | Invalid) -> None:
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("rx %r (state %s)", frame, self.state.value)
        if isinstance(frame, Rst):
            self._restart(RESET_SOFTWARE)
            if self._on_reset is not None:
                self._on_reset()
            return
        if self.state is not NcpState.CONNECTED:
            self.counters.ignored += 1
            return
        if isinstance(frame, Invalid):
            _LOGGER.debug("bad frame: %s", frame.reason)
            self.counters.bad_frames += 1
            if frame.looks_like_data:
                self._reject_frame()
            return
        if isinstance(frame, RstAck | Error):
            self.counters.ignored += 1  # only an NCP sends these
            return
        if not self._ack_in_window(frame.ack_num):
            _LOGGER.debug("ackNum %d outside %d..%d", frame.ack_num, self._ack_rx, self._next_frm)
            self.counters.bad_frames += 1
            if isinstance(frame, Data):
                self._reject_frame()
            return
        # The host is alive: ACK_TIMEOUTS counts timeouts with nothing valid heard in between.
        self._timeouts = 0
        self._take_ack(frame.ack_num)
        if isinstance(frame, Data):
            self._receive_data(frame)
        else:
            self._note_ready(frame.not_ready)
            if isinstance(frame, Nak):
                self.counters.naks_received += 1
                self._retransmit()
            self._pump()

    def _receive_data(self, frame: Data) -> None:
        if frame.frm_num == self._rx_seq:
            self._rx_seq = (self._rx_seq + 1) % 8
            self._reject = False
            self.counters.data_received += 1
            self._schedule_ack()
            self._pump()
            self._on_frame(frame.payload)
        elif frame.re_tx:
            self.counters.duplicates += 1
            self._send_ack()
            self._pump()
        else:
            self.counters.out_of_sequence += 1
            self._reject_frame()
            self._pump()

    def _ack_in_window(self, ack_num: int) -> bool:
        return _distance(self._ack_rx, ack_num) <= _distance(self._ack_rx, self._next_frm)

    def _take_ack(self, ack_num: int) -> None:
        acked = _distance(self._ack_rx, ack_num)
        if not acked:
            return
        now = self._now()
        for _ in range(acked):
            frame = self._outstanding.popleft()
            if not frame.retransmitted:
                rtt = now - frame.sent_at
                self._t_rx_ack = _clamp(self._t_rx_ack * 7 / 8 + rtt / 2)
        self._ack_rx = ack_num
        self._restart_ack_timer()

    def _note_ready(self, not_ready: bool) -> None:
        self._not_ready_until = self._now() + T_REMOTE_NOTRDY if not_ready else None

    # --- sending --------------------------------------------------------------------------------

    def _pump(self) -> None:
        while self._queue and len(self._outstanding) < self._window:
            payload = self._queue.popleft()
            frame = _Outgoing(self._next_frm, payload, self._now())
            self._next_frm = (self._next_frm + 1) % 8
            self._outstanding.append(frame)
            self.counters.data_sent += 1
            self._write(Data(frame.frm_num, self._rx_seq, False, payload))
            if self._ack_timer is None:
                self._restart_ack_timer()

    def _retransmit(self) -> None:
        first = True
        for frame in self._outstanding:
            frame.retransmitted = True
            self.counters.retransmissions += 1
            self._write(
                Data(frame.frm_num, self._rx_seq, True, frame.payload),
                prefix=bytes([CANCEL]) if first else b"",
            )
            first = False
        self._restart_ack_timer()

    def _schedule_ack(self) -> None:
        if self._ack_delay_timer is None:
            self._ack_delay_timer = asyncio.get_running_loop().call_later(
                self._ack_delay, self._send_ack
            )

    def _send_ack(self) -> None:
        if self._ack_delay_timer is not None:
            self._ack_delay_timer.cancel()
            self._ack_delay_timer = None
        if self.state is NcpState.CONNECTED:
            self.counters.acks_sent += 1
            self._write(Ack(self._rx_seq))

    def _reject_frame(self) -> None:
        if self._reject:
            return
        self._reject = True
        self.counters.naks_sent += 1
        self._write(Nak(self._rx_seq))

    def _restart_ack_timer(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        if self._outstanding and self.state is NcpState.CONNECTED:
            self._ack_timer = asyncio.get_running_loop().call_later(
                self._t_rx_ack, self._ack_timer_expired
            )

    def _ack_timer_expired(self) -> None:
        self._ack_timer = None
        if not self._outstanding or self.state is not NcpState.CONNECTED:
            return
        self._timeouts += 1
        self.counters.ack_timeouts += 1
        if self._ack_timeouts and self._timeouts > self._ack_timeouts:
            _LOGGER.debug("%d ACK timeouts in a row: FAILED", self._timeouts)
            self.counters.errors_sent += 1
            self._write(Error(ASH_VERSION, ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT))
            self._clear_link_state()
            self.state = NcpState.FAILED
            return
        self._t_rx_ack = _clamp(self._t_rx_ack * 2)
        self._retransmit()

    def _restart(self, code: int) -> None:
        self._clear_link_state()
        self.state = NcpState.CONNECTED
        self.counters.resets += 1
        self._write(RstAck(ASH_VERSION, code))

    def _write(self, frame: Frame, prefix: bytes = b"") -> None:
        if isinstance(frame, Data) and self._ack_delay_timer is not None:
            # The DATA frame carries the acknowledgement: no separate ACK is needed.
            self._ack_delay_timer.cancel()
            self._ack_delay_timer = None
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("tx %r", frame)
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(prefix + encode_frame(frame))

    def _now(self) -> float:
        return asyncio.get_running_loop().time()


def _clamp(t: float) -> float:
    return max(T_RX_ACK_MIN, min(t, T_RX_ACK_MAX))


__all__ = [
    "ACK_TIMEOUTS",
    "ASH_VERSION",
    "MAX_DATA_LEN",
    "RESET_POWER_ON",
    "RESET_SOFTWARE",
    "TX_K",
    "Ack",
    "AshCounters",
    "AshNcp",
    "Data",
    "Deframer",
    "Error",
    "Invalid",
    "Nak",
    "NcpState",
    "Rst",
    "RstAck",
    "crc16",
    "decode_frame",
    "encode_frame",
    "lfsr_sequence",
    "randomise",
    "stuff",
    "unstuff",
]
