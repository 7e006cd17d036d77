"""Both airs agree: one device, one profile, one campaign, one seed reaches the same outcome,
alerts and activation response on the direct air and on the zigpy air, for every shipped
profile and every activation mode. (Timing may differ: the airs carry frames differently.)"""

from __future__ import annotations

import pytest

from emulator.device.campaign import MODES, ActivationPlan
from emulator.errors import CampaignError
from emulator.ota.link import LinkPolicy
from emulator.profiles import load_all
from emulator.scenario import CampaignSpec, Scenario, profile_device, run

PROFILES = sorted(p.name for p in load_all())


def scenario(profile, mode: str, radio: str, *, at_once: bool = False) -> Scenario:
    device = profile_device("device", profile)
    if at_once:  # the client starts the moment it has power, racing its own join
        device = profile_device(
            "device",
            profile,
            policy=device.policy.replace(start_delay_min_s=0, start_delay_max_s=0),
        )
    return Scenario(
        name=f"{profile.name}-{mode}",
        devices=(device,),
        campaigns=(
            CampaignSpec(
                ("device",),
                build_version=profile.zigbee.firmware_version + 1,
                build_size=2048,
                plan=ActivationPlan(mode=mode),
            ),
        ),
        faults=LinkPolicy(latency_s=0.0, jitter_s=0.0),
        duration=6 * 3600,
        radio=radio,
        seed=4,
    )


def verdict(report):
    (device,) = report.devices
    commands = [
        (c["kind"], c.get("verdict"), c.get("response"))
        for c in (device.gb or {}).get("commands", [])
    ]
    return device.outcome, device.alerts, device.activation_response, commands, device.reason


@pytest.mark.parametrize("at_once", [False, True], ids=["profile-start", "immediate-start"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROFILES)
def test_direct_and_zigpy_airs_reach_the_same_verdict(name, mode, at_once):
    profile = next(p for p in load_all() if p.name == name)
    try:
        direct = run(scenario(profile, mode, "direct", at_once=at_once))
    except CampaignError as exc:  # a plan the profile cannot take is refused on both airs
        with pytest.raises(CampaignError, match=str(exc)):
            run(scenario(profile, mode, "zigpy", at_once=at_once))
        return
    zigpy = run(scenario(profile, mode, "zigpy", at_once=at_once))
    assert verdict(direct) == verdict(zigpy)
    assert direct.devices[0].outcome != "failed", direct.devices[0].reason
