"""Benchmarks: the direct air's cost grows linearly with the image size and the number of
devices (twice either is about twice the CPU; scripts/bench.py prints the ratios).

Run with `scripts/test tests/bench/test_bench_core.py --benchmark-enable`; in the normal suite
each runs once as a plain test. Nothing here asserts a time: `extra_info` records the blocks.
"""

from __future__ import annotations

import random

import pytest

from emulator.device.campaign import ActivationPlan
from emulator.ota.image import build_image
from emulator.ota.policy import ClientPolicy
from emulator.scenario import CampaignSpec, DeviceSpec, Scenario, plain_identity, run

MFG, TYPE = 0x1234, 0x0101
OLD = build_image(b"old", manufacturer_id=MFG, image_type=TYPE, file_version=1)


def _image(size: int) -> bytes:
    payload = random.Random(size).randbytes(size)
    return build_image(
        payload, manufacturer_id=MFG, image_type=TYPE, file_version=2, integrity=True
    )


def _scenario(image: bytes, devices: int) -> Scenario:
    names = tuple(f"device-{n}" for n in range(devices))
    return Scenario(
        name="bench",
        devices=tuple(
            DeviceSpec(
                name=name,
                zigbee=plain_identity(MFG, TYPE, 1),
                policy=ClientPolicy(),
                running_image=OLD,
            )
            for name in names
        ),
        campaigns=(CampaignSpec(names, image=image, plan=ActivationPlan(mode="none")),),
        seed=1,
    )


@pytest.mark.parametrize(
    ("size", "devices"),
    [(32 * 1024, 1), (64 * 1024, 1), (32 * 1024, 2)],
    ids=["32KiB-1device", "64KiB-1device", "32KiB-2devices"],
)
def test_bench_direct_air_downloads(benchmark, size, devices):
    scenario = _scenario(_image(size), devices)
    report = benchmark.pedantic(run, args=(scenario,), rounds=3, iterations=1)
    assert [d.outcome for d in report.devices] == ["activated"] * devices
    blocks = [d.blocks for d in report.devices]
    assert blocks == [blocks[0]] * devices and blocks[0] >= size // 56
    benchmark.extra_info.update(size=size, devices=devices, blocks=sum(blocks))
