"""The same scenario engine on the wall clock: `realtime` runs on a plain asyncio loop, and
`virtual_seconds` is still the scenario's elapsed time, never the host's monotonic clock."""

from __future__ import annotations

import time

import pytest
from ota_harness import IDENTITY, make_image, running_image
from simulation import Simulation

from emulator.device.campaign import ActivationPlan, profile_image
from emulator.ota.policy import ClientPolicy
from emulator.profiles import load_profile
from emulator.scenario import CampaignSpec, Scenario, profile_device, run

QUICK = ClientPolicy(start_delay_min_s=0, start_delay_max_s=0, min_activation_delay_s=0)


def test_download_in_real_time_on_asyncio():
    image = make_image(bytes(range(200)) * 5, version=2)
    sim = Simulation(
        running_image=running_image(1),
        images=[image],
        identity=IDENTITY,
        client_policy=QUICK,
        max_virtual_s=30,
        seed=1,
        realtime=True,
    )
    started = time.monotonic()
    result = sim.run()
    took = time.monotonic() - started
    assert result.outcome == "activated"
    assert result.running_image == image
    assert result.virtual_seconds > 0.005 * 2 * result.blocks  # every frame took link latency
    assert result.virtual_seconds <= took  # scenario time, not the host's clock


@pytest.mark.parametrize("radio", ["direct", "zigpy"])
def test_gb_campaign_end_to_end_in_real_time(radio):
    """Download, receipt alert, CS06 from the head-end, activation: on the wall clock, with the
    same verdict as in virtual time, on either air (the device starts at once: its first
    discovery races its own join)."""
    profile = load_profile("ihd-opt1")
    policy = profile_device("ihd", profile).policy.replace(
        start_delay_min_s=0, start_delay_max_s=0, min_activation_delay_s=0
    )
    image = profile_image(profile, size=512)
    scenario = Scenario(
        name="realtime",
        devices=(profile_device("ihd", profile, policy=policy),),
        campaigns=(CampaignSpec(("ihd",), image=image, plan=ActivationPlan()),),
        duration=60,
        dcc_latency_s=0.5,
        radio=radio,
    )
    virtual = run(scenario)
    real = run(scenario, realtime=True)
    for report in (virtual, real):
        (device,) = report.devices
        assert device.outcome == "activated", device.reason
        assert device.alerts == ["8F72", "8F43"] and device.activation_response == 0
    assert 0 < real.virtual_seconds < 60
