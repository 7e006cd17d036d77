"""One home's 802.15.4 channel: what a frame costs in time, and frames waiting their turn.

A home (a PAN) shares one 2.4 GHz O-QPSK channel at 250 kbit/s: 32 µs an octet. Sending one
frame (docs/radio.md has the formula and a worked example):

1. unslotted CSMA-CA: wait a random number of backoff periods, 0 to 2^BE - 1, of 320 µs each
   (BE starts at macMinBE 3), then a clear channel assessment of 128 µs; a busy channel raises
   BE (up to macMaxBE 5) and backs off again, at most macMaxCSMABackoffs 4 more times; after
   that the MAC reports a channel access failure and the frame waits for the channel to clear
   before it starts over (counted in `access_failures`);
2. the RX-to-TX turnaround (192 µs), then the frame: PHY preamble, SFD and length (6 octets)
   and the PSDU (MAC header and FCS, NWK header with its security header and MIC, APS header
   and its security, the payload: `emulator.framesize`);
3. for a unicast, the turnaround again and the 11-octet MAC acknowledgement.

The channel is busy from the end of the sender's assessment to the end of its acknowledgement;
a frame that would start while it is busy backs off instead, so frames wait while the channel
is busy and two devices downloading at once share it. A device `hops` radio hops away has each
hop pay all of this, plus `HOP_LATENCY_S` of relaying between hops. A message that needs APS
fragmentation sends each fragment as its own frame.

This is a serialising model, not a collision model: a sender's reservation starts when it
decides to send (the frame after its backoff), so a second sender whose assessment falls inside
the first one's backoff sees the channel busy (a real radio would see it idle and collide).
This module owns the arithmetic and the channel's state; it never reads wall time and draws its
randomness from the generator it is given.
"""

from __future__ import annotations

import random

from emulator import framesize

OCTET_S = 32e-6
"""2.4 GHz O-QPSK: 250 kbit/s, 8 bits an octet."""
UNIT_BACKOFF_S = 320e-6
"""aUnitBackoffPeriod: 20 symbols of 16 µs."""
CCA_S = 128e-6
"""A clear channel assessment: 8 symbols."""
TURNAROUND_S = 192e-6
"""aTurnaroundTime, RX to TX or TX to RX: 12 symbols."""
ACK_OCTETS = framesize.PHY_HEADER + 5
"""A MAC acknowledgement: PHY header, then frame control, sequence number and FCS."""
MIN_BE = 3
MAX_BE = 5
MAX_BACKOFFS = 4
HOP_LATENCY_S = 0.002
"""A router's time between receiving a frame for another node and starting to relay it."""


def frame_s(air_octets: int) -> float:
    """Seconds `air_octets` octets (PHY header included) take on the air."""
    return air_octets * OCTET_S


ACK_S = TURNAROUND_S + frame_s(ACK_OCTETS)
"""From the end of a unicast frame to the end of its acknowledgement."""


def exchange_floor_s(psdu: int, *, unicast: bool = True) -> float:
    """The least time one frame of `psdu` octets costs with no backoff wait: assessment,
    turnaround, the frame and, for a unicast, its acknowledgement."""
    return CCA_S + TURNAROUND_S + frame_s(framesize.PHY_HEADER + psdu) + (ACK_S if unicast else 0.0)


class Channel:
    """The shared channel of one home: when it is free again, and the senders' backoffs."""

    __slots__ = ("access_failures", "busy_until", "frames", "rng")

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.busy_until = 0.0
        self.frames = 0
        self.access_failures = 0

    def send(
        self,
        now: float,
        psdu: int,
        *,
        frames: int = 1,
        unicast: bool = True,
        hops: int = 1,
    ) -> float:
        """A sender hands the channel `frames` frames of `psdu` octets each at `now`: the time
        the last of them has reached its destination, `hops` hops away. The channel is
        reserved meanwhile."""
        t = now
        on_air = frame_s(framesize.PHY_HEADER + psdu)
        after = ACK_S if unicast else 0.0
        for hop in range(hops):
            if hop:
                t += HOP_LATENCY_S
            for _ in range(frames):
                t = self._access(t) + TURNAROUND_S + on_air + after
                self.busy_until = t
                self.frames += 1
        return t

    def _access(self, t: float) -> float:
        """Unslotted CSMA-CA from `t`: when the channel was found clear."""
        draw = self.rng.getrandbits  # uniform in 0 .. 2^BE - 1, and cheaper than randrange
        be = MIN_BE
        backoffs = 0
        while True:
            t += draw(be) * UNIT_BACKOFF_S + CCA_S
            if t >= self.busy_until:
                return t
            backoffs += 1
            if backoffs > MAX_BACKOFFS:  # channel access failure: wait for it, start over
                self.access_failures += 1
                t = self.busy_until
                be = MIN_BE
                backoffs = 0
            else:
                be = min(be + 1, MAX_BE)
