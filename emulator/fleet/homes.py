"""The homes of a fleet campaign: which kind each is, its seed, its `Scenario`, its run.

`kinds(campaign)` deals the mix out to the campaign's homes: each kind gets its share of the
homes (largest remainder), and a shuffle drawn from the campaign's seed says which home is which.
`home_seed(seed, index, attempt)` derives a home's seed from the campaign's seed, its index and
its attempt, so any home replays alone (`run_home(campaign, index, kind)`). `scenario_for` builds
the home with the pieces a home file uses (`profile_device`, `CampaignSpec`, `ActivationPlan`):
one device per device type of its kind, on its option's route, each sent an image built for its
profile at fleet time 0 of the home. `run_home` plays it with the one scenario engine, with an
in-memory firmware inventory, and runs it again with the next derived seed, up to the campaign's
`retries`, while a device did not come out as its option is expected to (`expected_outcome`).

This module owns the homes' plan and turning a home's run into rows; it never writes a file,
never schedules work across processes and never reads wall time.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from emulator.device.campaign import ActivationPlan
from emulator.device.headend import dcc_refusal
from emulator.fleet.campaign import KINDS, FleetCampaign, route_of
from emulator.interrupt import Interruption
from emulator.inventory import Activation, Inventory
from emulator.ota.client import OutcomeKind
from emulator.ota.link import LinkPolicy
from emulator.profiles import DeviceProfile, Route
from emulator.scenario import CampaignSpec, Scenario, ScenarioReport, profile_device, run

SEED_BITS = 63


def home_seed(seed: int, index: int, attempt: int = 0) -> int:
    """The seed of attempt `attempt` (0: the first run) of home `index` of a campaign seeded
    `seed`: the same in every process and on every machine."""
    digest = hashlib.sha256(f"hanemu fleet {seed} home {index} attempt {attempt}".encode())
    return int.from_bytes(digest.digest()[:8], "big") >> (64 - SEED_BITS)


def kinds(campaign: FleetCampaign) -> list[str]:
    """The kind of every home, by index: each kind's share of the homes (largest remainder,
    ties to the kind listed first), in an order shuffled from the campaign's seed."""
    n = campaign.homes
    exact = [(kind, share * n) for kind, share in campaign.mix]
    counts = {kind: int(x) for kind, x in exact}
    left = n - sum(counts.values())
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i][1] % 1), i))
    for i in by_remainder[:left]:
        counts[exact[i][0]] += 1
    dealt = [kind for kind, _share in campaign.mix for _ in range(counts[kind])]
    random.Random(home_seed(campaign.seed, -1)).shuffle(dealt)
    return dealt


def expected_outcome(profile: DeviceProfile) -> OutcomeKind:
    """What a device of an option must come to: activated, unless the DCC refuses devices of
    its profile (out of scope, or an enabler missing), which is then the expected outcome."""
    if route_of(profile) == Route.DCC and dcc_refusal(profile) is not None:
        return OutcomeKind.REJECTED
    return OutcomeKind.ACTIVATED


def home_name(index: int) -> str:
    return f"home-{index:07d}"


def scenario_for(campaign: FleetCampaign, index: int, kind: str, attempt: int = 0) -> Scenario:
    """Home `index` of the campaign, a home of `kind`, as its attempt `attempt` runs."""
    devices = []
    specs = []
    for device_type in KINDS[kind]:
        profile = campaign.profile(device_type)
        name = str(device_type).lower()
        devices.append(
            profile_device(
                name,
                profile,
                route=route_of(profile),
                expect=expected_outcome(profile),
            )
        )
        specs.append(
            CampaignSpec(
                devices=(name,),
                build_version=campaign.file_version,
                build_size=campaign.image_size,
                build_seed=campaign.seed,  # one image per device type for the whole fleet
                supplier=campaign.supplier,
                plan=ActivationPlan(supplier=campaign.supplier),
            )
        )
    return Scenario(
        name=home_name(index),
        devices=tuple(devices),
        campaigns=tuple(specs),
        faults=LinkPolicy(
            drop=campaign.drop_rate,
            duplicate=campaign.duplicate_rate,
            corrupt=campaign.corrupt_rate,
        ),
        duration=campaign.duration,
        radio=campaign.radio,
        seed=home_seed(campaign.seed, index, attempt),
        pki_seed=campaign.pki_seed,
    )


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One device of one home at the end of its last attempt: one row of the results."""

    home: int
    home_seed: int
    kind: str
    device: str
    device_type: str
    profile: str
    """The option: the profile the campaign names for this device type."""
    route: str
    outcome: str
    reason: str | None
    expected: str
    as_expected: bool
    time_to_update_s: float | None
    """From the campaign reaching the device's route to the new firmware running (last attempt)."""
    updated_at_s: float | None
    """Fleet time the new firmware ran: the home's wave start, the attempts before, the time
    to update."""
    dcc_messages: int
    site_visits: int
    engineer_minutes: int
    findings: tuple[tuple[str, str], ...]
    """(severity, kind) of each security finding, in the order found."""
    retries: int
    """How many times the home was run again before this, its last, attempt."""
    bytes: int
    blocks: int


@dataclass(frozen=True, slots=True)
class HomeResult:
    """A home's last attempt: its rows and the inventory's rows of that attempt."""

    index: int
    kind: str
    seed: int
    attempts: int
    wave: int
    started_at_s: float
    virtual_seconds: float
    """Scenario time of every attempt together."""
    ok: bool
    devices: tuple[DeviceRow, ...]
    activations: tuple[Activation, ...]
    interrupted: int | None = None
    """The signal that stopped the home's run (its rows are then not to be kept), or None."""


def run_home(
    campaign: FleetCampaign,
    index: int,
    kind: str,
    *,
    interruption: Interruption | None = None,
) -> HomeResult:
    """Run home `index` (of `kind`), again with the next derived seed while a device did not
    come out as expected, up to the campaign's retries."""
    started = campaign.waves.start(index)
    elapsed = 0.0
    attempt = 0
    while True:
        scenario = scenario_for(campaign, index, kind, attempt)
        with Inventory.memory() as inventory:
            report = run(scenario, interruption=interruption, inventory=inventory)
            activations = tuple(inventory.rows())
        if report.interrupted is not None or report.ok or attempt >= campaign.retries:
            break
        elapsed += report.virtual_seconds
        attempt += 1
    rows = tuple(
        _row(campaign, index, kind, scenario, report, d, attempt, started + elapsed)
        for d in report.devices
    )
    return HomeResult(
        index=index,
        kind=kind,
        seed=scenario.seed,
        attempts=attempt + 1,
        wave=campaign.waves.wave(index),
        started_at_s=started,
        virtual_seconds=round(elapsed + report.virtual_seconds, 6),
        ok=report.ok,
        devices=rows,
        activations=activations,
        interrupted=report.interrupted,
    )


def _row(
    campaign: FleetCampaign,
    index: int,
    kind: str,
    scenario: Scenario,
    report: ScenarioReport,
    d: Any,
    attempt: int,
    offset: float,
) -> DeviceRow:
    spec = next(s for s in scenario.devices if s.name == d.name)
    profile = spec.profile
    assert profile is not None and spec.expect is not None
    ttu = d.time_to_update_s if d.outcome is OutcomeKind.ACTIVATED else None
    return DeviceRow(
        home=index,
        home_seed=scenario.seed,
        kind=kind,
        device=d.name,
        device_type=str(profile.device_type),
        profile=profile.name,
        route=str(d.route),
        outcome=OutcomeKind(d.outcome).value,
        reason=d.reason,
        expected=spec.expect.value,
        as_expected=d.as_expected,
        time_to_update_s=ttu,
        updated_at_s=None if ttu is None else round(offset + ttu, 6),
        dcc_messages=d.dcc_messages,
        site_visits=d.site_visits,
        engineer_minutes=d.engineer_minutes,
        findings=tuple((str(f.severity), f.kind) for f in d.findings),
        retries=attempt,
        bytes=d.bytes,
        blocks=d.blocks,
    )
