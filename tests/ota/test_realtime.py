"""The same client, server and driver run in real time on asyncio through RealClock."""

from __future__ import annotations

import pytest
from ota_harness import IDENTITY, make_image, running_image

from emulator.clock import RealClock, VirtualClock
from emulator.device.simulation import Simulation
from emulator.ota.policy import ClientPolicy

QUICK = ClientPolicy(start_delay_min_s=0, start_delay_max_s=0, min_activation_delay_s=0)


async def test_download_in_real_time_on_asyncio():
    image = make_image(bytes(range(200)) * 5, version=2)
    sim = Simulation(
        running_image=running_image(1),
        images=[image],
        identity=IDENTITY,
        client_policy=QUICK,
        clock=RealClock(),
        max_virtual_s=30,
        seed=1,
    )
    result = await sim.run_realtime()
    assert result.outcome == "activated" and result.running_image == image
    assert result.blocks == -(-len(image) // 50)
    assert result.virtual_seconds > 0.005 * 2 * result.blocks  # every frame took link latency


async def test_each_run_mode_insists_on_its_clock():
    image = make_image(version=2)
    virtual = Simulation(
        running_image=running_image(1), images=[image], identity=IDENTITY, clock=VirtualClock()
    )
    with pytest.raises(TypeError):
        await virtual.run_realtime()
    real = Simulation(
        running_image=running_image(1), images=[image], identity=IDENTITY, clock=RealClock()
    )
    with pytest.raises(TypeError):
        real.run()
