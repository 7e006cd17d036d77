"""Every numeric knob has a range in which every run ends.

A profile with `[ota] message_timeout_ms = 0` used to pass validation and then never end: the
client re-asked at the same virtual instant forever. Each wait the client repeats now has a
floor (`emulator.ota.policy.CLIENT_RANGES`); these tests give every knob its smallest allowed
value in the situations that make a client repeat itself (nobody answers, the server stalls or
keeps saying wait) and show the run still ends, spending a bounded number of events per virtual
second, so its time budget means something.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from emulator.clock import StepPacer, VirtualClock, run_stepped
from emulator.device.campaign import ActivationPlan
from emulator.errors import ConfigError, PolicyError
from emulator.ota.image import build_image
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import CLIENT_RANGES, ClientPolicy, ServerPolicy
from emulator.profiles import PROFILES_DIR, load_profile
from emulator.scenario import Scenario, ScenarioRun, one_device

DURATION_S = 3600.0
EVENTS_PER_SECOND = 50
"""Far above what the smallest values cost (a few events per virtual second), far below a spin."""

FLOORED = (
    "message_timeout_ms",
    "page_timeout_s",
    "query_interval_s",
    "server_discovery_delay_s",
    "bad_wait_for_data_s",
    "max_wait_s",
    "wait_for_upgrade_poll_s",
)
"""The waits a client repeats: 0 used to be allowed for each."""


class _Spin(AssertionError):
    pass


class _BudgetClock(VirtualClock):
    """A virtual clock that fails the test once a run spends more events than its budget."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget

    def step_before(self, limit: float) -> bool:
        if self.events_run > self.budget:
            raise _Spin(f"{self.events_run} events by {self.now:.3f} s: the run spins in place")
        return super().step_before(limit)

    def step(self) -> bool:
        if self.events_run > self.budget:
            raise _Spin(f"{self.events_run} events by {self.now:.3f} s: the run spins in place")
        return super().step()


def _play(scenario: Scenario):
    budget = int(EVENTS_PER_SECOND * scenario.duration)

    def pacing() -> StepPacer:
        pacer = StepPacer()
        pacer.clock = _BudgetClock(budget)
        return pacer

    engine = ScenarioRun(scenario, None, None)
    return run_stepped(engine.play(pacing)), engine.clock.events_run


def smallest(policy: ClientPolicy, **more) -> ClientPolicy:
    """`policy` with every wait at the smallest value its range allows, the start at once, and
    thresholds so high the client never gives up."""
    lows = {name: CLIENT_RANGES[name][0] for name in FLOORED}
    lows |= {"start_delay_min_s": 0, "start_delay_max_s": 0, "block_retry_backoff_ms": 0}
    lows |= {"download_delay_ms": 0, "min_activation_delay_s": 0, "response_spacing_ms": 0}
    highs = {
        name: CLIENT_RANGES[name][1]
        for name in ("query_error_threshold", "download_error_threshold", "upgrade_wait_threshold")
    }
    return policy.replace(**lows, **highs, **more)


def _gb(server: ServerPolicy | None = None, faults: LinkPolicy | None = None, **more) -> Scenario:
    scenario = one_device(
        profile=load_profile("hcalcs-opt1"),
        image=None,
        plan=ActivationPlan(),
        image_size=4096,
        server=server,
        faults=faults,
    )
    device = scenario.devices[0]
    device = replace(device, policy=smallest(device.policy, **more))
    return replace(scenario, devices=(device,), duration=DURATION_S)


def _plain(server: ServerPolicy) -> Scenario:
    image = build_image(b"x" * 4096, manufacturer_id=0x1234, image_type=1, file_version=2)
    scenario = one_device(profile=None, image=image, plan=ActivationPlan(), server=server)
    device = scenario.devices[0]
    device = replace(device, policy=smallest(device.policy))
    return replace(scenario, devices=(device,), duration=DURATION_S)


SITUATIONS = {
    # Nobody answers: queries, rediscovery and EUI lookups time out again and again.
    "dead link": lambda: _gb(faults=LinkPolicy(drop=1.0)),
    # Block requests go unanswered for the whole run.
    "stalled server": lambda: _gb(server=ServerPolicy(misbehaviour="stall")),
    "stalled server, pages": lambda: _gb(
        server=ServerPolicy(misbehaviour="stall"), use_page_requests=True
    ),
    # Every answer is for the wrong block: the client re-asks at each timeout.
    "wrong offsets": lambda: _gb(server=ServerPolicy(misbehaviour="wrong-offset")),
    # UpgradeTime 0xFFFFFFFF and nobody releases the device: it polls until the end.
    "upgrade wait": lambda: _plain(ServerPolicy(upgrade_time="wait")),
    # WAIT_FOR_DATA on every request that comes too early.
    "rate limited": lambda: _gb(server=ServerPolicy(min_block_period=0xFFFE)),
    "lossy pages": lambda: _gb(faults=LinkPolicy(drop=0.5), use_page_requests=True),
}


@pytest.mark.parametrize("situation", SITUATIONS)
def test_a_run_with_the_smallest_allowed_values_ends(situation):
    report, events = _play(SITUATIONS[situation]())
    assert report.virtual_seconds <= DURATION_S
    assert events <= EVENTS_PER_SECOND * DURATION_S


@pytest.mark.parametrize("name", FLOORED)
def test_a_repeated_wait_of_zero_is_refused(name):
    with pytest.raises(PolicyError, match=rf"ClientPolicy\.{name} must be a number in \["):
        ClientPolicy(**{name: 0})
    low = CLIENT_RANGES[name][0]
    assert low > 0 and getattr(ClientPolicy(**{name: low}), name) == low


def test_a_profile_with_message_timeout_0_is_refused_naming_the_key(tmp_path: Path):
    for path in PROFILES_DIR.glob("*.toml"):
        shutil.copy(path, tmp_path)
    profile = tmp_path / "hcalcs-opt1.toml"
    profile.write_text(profile.read_text() + "\n[ota]\nmessage_timeout_ms = 0\n")
    with pytest.raises(ConfigError, match=r"hcalcs-opt1\.toml: key ota\.message_timeout_ms: "):
        load_profile("hcalcs-opt1", tmp_path)


def test_every_numeric_knob_has_a_range():
    numeric = {
        name
        for name, value in ((f, getattr(ClientPolicy(), f)) for f in ClientPolicy.__slots__)
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    assert numeric == set(CLIENT_RANGES)
