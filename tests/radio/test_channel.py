"""The 802.15.4 channel model against airtimes worked out by hand (docs/radio.md)."""

from __future__ import annotations

import random

import pytest

from emulator import framesize
from emulator.radio.channel import (
    ACK_S,
    CCA_S,
    HOP_LATENCY_S,
    TURNAROUND_S,
    UNIT_BACKOFF_S,
    Channel,
    exchange_floor_s,
    frame_s,
)


class NoBackoff(random.Random):
    """A generator whose every backoff draw is 0 (the shortest CSMA-CA)."""

    def randrange(self, *_args, **_kwargs) -> int:
        return 0


# Hand-computed: an APS-encrypted Smart Energy frame carries 54 octets of headers around its APS
# payload (MAC 9 + FCS 2, NWK 8, NWK security 14 + MIC 4, APS 8, APS security 5 + MIC 4), plus
# the 6-octet PHY header; 32 µs an octet. An Image Block Response is ZCL header 3 + 14 fields +
# the block. So:
#   block  56: APS payload 73, PSDU 127, on air 133 octets = 4.256 ms
#   block  40: APS payload 57, PSDU 111, on air 117 octets = 3.744 ms
#   block  10: APS payload 27, PSDU  81, on air  87 octets = 2.784 ms
# and with no backoff wait: CCA 0.128 + turnaround 0.192 + frame + turnaround 0.192 + ACK
# (11 octets) 0.352 ms.
@pytest.mark.parametrize(
    ("block", "frame_ms", "total_ms"),
    [(56, 4.256, 5.120), (40, 3.744, 4.608), (10, 2.784, 3.648)],
)
def test_an_image_block_response_costs_what_the_hand_sums_say(block, frame_ms, total_ms):
    payload = framesize.ZCL_HEADER + framesize.IMAGE_BLOCK_RESPONSE_FIELDS + block
    psdu = framesize.psdu_octets(payload, framesize.SMART_ENERGY)
    assert frame_s(framesize.PHY_HEADER + psdu) == pytest.approx(frame_ms / 1000)
    assert exchange_floor_s(psdu) == pytest.approx(total_ms / 1000)
    assert Channel(NoBackoff()).send(0.0, psdu) == pytest.approx(total_ms / 1000)


def test_the_constants_are_the_standards():
    assert pytest.approx(20 * 16e-6) == UNIT_BACKOFF_S
    assert pytest.approx(8 * 16e-6) == CCA_S
    assert pytest.approx(12 * 16e-6) == TURNAROUND_S
    assert pytest.approx(TURNAROUND_S + 11 * 32e-6) == ACK_S


def test_a_broadcast_waits_for_no_acknowledgement():
    assert Channel(NoBackoff()).send(0.0, 50, unicast=False) == pytest.approx(
        CCA_S + TURNAROUND_S + 56 * 32e-6
    )


def test_backoffs_are_the_seeded_draws():
    """With BE 3 a first attempt waits 0..7 backoff periods: replaying the same seed gives the
    draw, and the frame ends that many periods after the no-wait case."""
    draws = random.Random(5)
    wait = draws.randrange(8) * UNIT_BACKOFF_S
    assert Channel(random.Random(5)).send(1.0, 100) == pytest.approx(
        1.0 + wait + exchange_floor_s(100)
    )


def test_a_frame_waits_while_the_channel_is_busy():
    channel = Channel(NoBackoff())
    first = channel.send(0.0, 127)
    second = channel.send(0.001, 127)  # handed over while the first is on the air
    assert second > first
    assert second >= first + exchange_floor_s(127) - CCA_S  # it starts only once it is clear


def test_each_hop_pays_again_plus_relaying():
    one = Channel(NoBackoff()).send(0.0, 100)
    three = Channel(NoBackoff()).send(0.0, 100, hops=3)
    assert three == pytest.approx(3 * one + 2 * HOP_LATENCY_S)


def test_fragments_are_frames_of_their_own():
    assert Channel(NoBackoff()).send(0.0, 100, frames=3) == pytest.approx(3 * exchange_floor_s(100))


def test_a_crowded_channel_counts_access_failures_and_still_delivers():
    channel = Channel(random.Random(1))
    ends = [channel.send(0.0, 127) for _ in range(40)]
    assert ends == sorted(ends)
    assert channel.frames == 40
    assert channel.access_failures > 0
