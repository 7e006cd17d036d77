"""The 802.15.4 channel model against airtimes worked out by hand (docs/radio.md)."""

from __future__ import annotations

import random
from dataclasses import replace

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

    def getrandbits(self, *_args, **_kwargs) -> int:
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
    wait = draws.getrandbits(3) * UNIT_BACKOFF_S
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


# --- the channel under the scenario engine ----------------------------------------------------

from emulator.profiles import load_profile  # noqa: E402
from emulator.scenario import CampaignSpec, Scenario, profile_device, run  # noqa: E402


def _downloads(radio: str, devices: int, *, hops: int = 1) -> list:
    profile = load_profile("hcalcs-opt1")
    specs = tuple(
        profile_device(f"hcalcs{i}", profile, ieee=0x00DB000000000100 + i) for i in range(devices)
    )
    if hops != 1:
        specs = tuple(replace(s, hops=hops) for s in specs)
    report = run(
        Scenario(
            name="channel",
            devices=specs,
            campaigns=(
                CampaignSpec(
                    tuple(s.name for s in specs),
                    build_version=profile.zigbee.firmware_version + 1,
                    build_size=16384,
                    at=5.0,  # every device has joined: the offer reaches them together
                ),
            ),
            radio=radio,
            seed=3,
        )
    )
    assert all(d.outcome == "activated" for d in report.devices), report.devices
    return report.devices


@pytest.mark.parametrize("radio", ["direct", "zigpy"])
def test_one_device_on_one_hop_moves_40_to_105_block_exchanges_a_second(radio):
    (device,) = _downloads(radio, 1)
    rate = device.blocks / device.download_seconds
    assert 40 <= rate <= 105, rate


@pytest.mark.parametrize("radio", ["direct", "zigpy"])
def test_three_devices_at_once_each_take_about_three_times_as_long(radio):
    """They share one channel: each takes three times as long, and somewhat more, since
    CSMA-CA backs off further each time it finds the channel busy (3.8 times here)."""
    (alone,) = _downloads(radio, 1)
    three = _downloads(radio, 3)
    for device in three:
        assert 2.8 <= device.download_seconds / alone.download_seconds <= 4.2, (
            device.download_seconds,
            alone.download_seconds,
        )


def test_a_device_three_hops_away_is_slower():
    (near,) = _downloads("direct", 1)
    (far,) = _downloads("direct", 1, hops=3)
    assert far.download_seconds > 2.5 * near.download_seconds
