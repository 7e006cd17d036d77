"""The scenario engine: one seed replays a run exactly, the duration bounds it, devices join
JOIN_SPACING_S apart, `one_device` refuses a profile the HAN never updates, and the two ways of
spending virtual time (stepping a VirtualClock, or asyncio's virtual loop) agree."""

from __future__ import annotations

import json

import pytest

from emulator.clock import LoopPacer
from emulator.device.campaign import ActivationPlan
from emulator.errors import ScenarioError
from emulator.ota.client import OutcomeKind
from emulator.ota.link import LinkPolicy
from emulator.profiles import load_profile
from emulator.radio import timeloop
from emulator.scenario import (
    JOIN_SPACING_S,
    CampaignSpec,
    Scenario,
    ScenarioRun,
    one_device,
    profile_device,
    run,
)


def home(seed: int = 3, *, duration: float = 6 * 3600.0, drop: float = 0.05) -> Scenario:
    """Two GB devices of different profiles and a lossy link: enough randomness to notice a
    seed that is not followed."""
    return Scenario(
        name="two devices",
        devices=(
            profile_device("ihd", load_profile("ihd-opt1")),
            profile_device("ppmid", load_profile("ppmid-ch-managed")),
        ),
        campaigns=(CampaignSpec(("ihd", "ppmid"), build_size=2048),),
        faults=LinkPolicy(drop=drop),
        duration=duration,
        seed=seed,
    )


def test_the_same_seed_replays_the_same_run():
    first = run(home(seed=3)).to_json()
    again = run(home(seed=3)).to_json()
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert [d["outcome"] for d in first["devices"]] == ["activated", "activated"]


def test_another_seed_draws_other_addresses():
    one = run(home(seed=3))
    other = run(home(seed=4))
    assert [d.ieee for d in one.devices] != [d.ieee for d in other.devices]
    assert one.devices[0].ieee != other.devices[0].ieee


def test_the_duration_is_honoured():
    report = run(home(duration=10.0))
    assert report.virtual_seconds == 10.0
    for device in report.devices:
        assert device.outcome is not OutcomeKind.ACTIVATED
        assert all(event["t"] <= 10.0 for event in device.events)


def test_a_run_ends_when_every_device_settled():
    report = run(home())
    assert report.virtual_seconds < 3600.0
    last = max(event["t"] for device in report.devices for event in device.events)
    assert report.virtual_seconds == pytest.approx(last)


def test_devices_join_join_spacing_apart():
    scenario = Scenario(
        name="three",
        devices=tuple(profile_device(f"d{i}", load_profile("ihd-opt1")) for i in range(3)),
        duration=5.0,
    )
    report = run(scenario)
    powered = [device.events[0] for device in report.devices]
    assert [e["on"] for e in powered] == ["power-restored"] * 3
    assert [e["t"] for e in powered] == [JOIN_SPACING_S * (i + 1) for i in range(3)]
    assert JOIN_SPACING_S == 0.5


def test_one_device_refuses_a_profile_the_han_never_updates():
    with pytest.raises(
        ScenarioError, match=r"profile ihd is never offered a HAN download \(routes: local\)"
    ):
        one_device(profile=load_profile("ihd"), image=None, plan=ActivationPlan())


def test_a_device_on_a_route_its_profile_does_not_allow_is_refused():
    with pytest.raises(ScenarioError, match="device meter: profile ihd allows routes local"):
        profile_device("meter", load_profile("ihd"), route="wifi")


def test_the_refused_route_is_named_as_the_user_wrote_it():
    with pytest.raises(ScenarioError) as refused:
        profile_device("meter", load_profile("ihd"), route="wifi")
    assert str(refused.value).endswith("allows routes local, not 'wifi'")


def test_any_device_may_be_put_on_the_dcc_route_which_then_says_why_it_refuses():
    """The DCC route is the supplier's choice; the DCC's scope and enablers refuse it at run
    time with a reason (a report shows the option failing), not the file reader."""
    assert profile_device("meter", load_profile("ihd"), route="dcc").route == "dcc"


@pytest.mark.parametrize(
    "scenario",
    [
        home(seed=5),
        one_device(
            profile=load_profile("ppmid-opt1"),
            image=None,
            plan=ActivationPlan(),
            image_size=4096,
            power_loss=(0.5,),
            seed=2,
        ),
    ],
    ids=["two-devices-lossy", "one-device-power-loss"],
)
def test_stepped_and_asyncio_virtual_time_give_identical_reports(scenario):
    stepped = run(scenario)
    looped = timeloop.run(ScenarioRun(scenario, None, None).play(LoopPacer))
    assert json.dumps(stepped.to_json(), sort_keys=True) == json.dumps(
        looped.to_json(), sort_keys=True
    )
    assert stepped.frames > 0
