"""One emulated home: a home file (`emulator.homefile`) turned into a `Scenario` and run.

A home is a Comms Hub and its HAN devices on one network (`[home] radio`: the zigpy air by
default, or the direct air), its campaigns and its faults. `scenario_for(config)` builds the
`Scenario`: each device from its profile and route, each campaign for the devices it addresses
(by device name, profile name or `*`; a device follows the last campaign that names it), the
home's faults on OTA frames and its power cuts at download fractions. `run_home` plays it with
the one scenario engine. `check_outputs` refuses, before the run, a report, pcap or inventory
path that cannot be written whole or that names another output or one of the home's inputs
(`home_inputs`), and an inventory path holding something that is no inventory. This module
owns that translation; it never decides what a device, the hub or the head-end does, never
writes a file and never reads wall time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from emulator.device.campaign import ActivationPlan
from emulator.device.emulated import PowerCut
from emulator.homefile import (  # noqa: F401  (re-exported for callers of emulator.home)
    DEFAULT_HOME,
    HOMES_DIR,
    CampaignConfig,
    DeviceConfig,
    HomeConfig,
    HomeFileError,
    load_home,
)
from emulator.interrupt import Interruption
from emulator.inventory import Inventory, check_writable
from emulator.ota.client import OutcomeKind
from emulator.ota.image import parse_header
from emulator.ota.link import LinkPolicy
from emulator.outputs import check_outputs as _check_outputs
from emulator.profiles import PROFILES_DIR, Route
from emulator.scenario import (
    CampaignSpec,
    Capture,
    Consent,
    Progress,
    RogueSpec,
    Scenario,
    ScenarioReport,
    profile_device,
    read_image,
    run,
)

HomeReport = ScenarioReport
"""A home's report is a scenario's report."""


def scenario_for(
    config: HomeConfig, *, seed: int | None = None, radio: str | None = None
) -> Scenario:
    """The scenario a home file describes (`seed` and `radio` override the file's)."""
    srv = config.server
    cuts = tuple(PowerCut(at_fraction=f) for f in config.faults.power_loss_at)
    devices = tuple(
        profile_device(
            d.name,
            d.profile,
            route=d.route,
            firmware_version=d.firmware_version,
            expect=None if d.expect is None else OutcomeKind(d.expect),
            power_cuts=cuts,
            provenance=d.provenance,
            lead_supplier=d.lead_supplier,
            consent=Consent(d.consent, d.consent_after_s),
            expect_findings=d.expect_findings,
            hops=d.hops,
        )
        for d in config.devices
    )
    followed: dict[str, CampaignConfig] = {}
    for campaign in config.campaigns:
        for d in config.targets(campaign):
            followed[d.name] = campaign
    campaigns = tuple(
        _campaign(config, i, c, tuple(name for name, x in followed.items() if x is c))
        for i, c in enumerate(config.campaigns)
    )
    f = config.faults
    return Scenario(
        name=config.name,
        devices=devices,
        campaigns=tuple(c for c in campaigns if c.devices),
        server=srv.policy(),
        server_implementation=srv.implementation,
        faults=LinkPolicy(
            drop=f.drop_rate,
            duplicate=f.duplicate_rate,
            corrupt=f.corrupt_rate,
        ),
        duration=config.duration,
        radio=radio or str(config.radio),
        seed=config.seed if seed is None else seed,
        rogues=tuple(RogueSpec(g.name, g.target, g.at, g.text) for g in config.rogues),
    )


def _campaign(
    config: HomeConfig, index: int, c: CampaignConfig, devices: tuple[str, ...]
) -> CampaignSpec:
    image = None
    if c.image is not None:
        image = read_image(c.image)  # a file that is no OTA file is refused before the run
        _fits(config, index, image, devices)
    return CampaignSpec(
        devices=devices,
        image=image,
        build_version=None if c.build is None else c.build.file_version,
        build_size=65536 if c.build is None else c.build.size,
        supplier=c.supplier,
        plan=ActivationPlan(mode=c.activate, supplier=c.supplier),
        at=c.at,
        wifi=c.wifi,
        trigger=c.trigger,
    )


def _fits(config: HomeConfig, index: int, image: bytes, devices: tuple[str, ...]) -> None:
    """A campaign's file must be one the OTA server can offer to every device on the DCC route
    it addresses (same manufacturer and image type): otherwise the run would only show a device
    that is never offered anything. Refused before the network starts."""
    header = parse_header(image)
    for d in config.devices:
        z = d.profile.zigbee
        if d.name not in devices or d.route != Route.DCC:
            continue
        if (header.manufacturer_id, header.image_type) != (z.manufacturer_id, z.image_type):
            raise HomeFileError(
                config.source,
                f"campaign[{index}].image",
                f"is for manufacturer 0x{header.manufacturer_id:04X} image type "
                f"0x{header.image_type:04X}; device {d.name} ({d.profile.name}) is manufacturer "
                f"0x{z.manufacturer_id:04X} image type 0x{z.image_type:04X}",
            )


def run_home(
    config: HomeConfig,
    *,
    seed: int | None = None,
    radio: str | None = None,
    pcap: Path | None = None,
    realtime: bool = False,
    progress: Progress | None = None,
    interruption: Interruption | None = None,
    captures: Sequence[Capture] = (),
    inventory: Inventory | None = None,
    on_wifi_server: Callable[[str], None] | None = None,
) -> ScenarioReport:
    """Run a home to its end: in virtual time, or in real time with `realtime`; a signal
    `interruption` catches ends it early (the report then says `interrupted`); `captures` (a
    `radio.zep.ZepSink`) see every frame; `inventory` gets a row per firmware switch;
    `on_wifi_server` is told the Wi-Fi update server's URL when the home has Wi-Fi devices."""
    scenario = scenario_for(config, seed=seed, radio=radio)
    return run(
        scenario,
        realtime=realtime,
        pcap=pcap,
        progress=progress,
        interruption=interruption,
        captures=captures,
        inventory=inventory,
        on_wifi_server=on_wifi_server,
    )


def home_inputs(
    config: HomeConfig, home_file: Path, *, profiles_dir: Path | None = None
) -> list[tuple[Path, str]]:
    """Every file a run of the home reads, with what it is: the home file, the campaigns'
    images, and each device's profile file and the profile files it extends."""
    directory = profiles_dir or PROFILES_DIR
    found = [(home_file, "the home file")]
    for i, campaign in enumerate(config.campaigns):
        if campaign.image is not None:
            found.append((campaign.image, f"the image of campaign[{i}]"))
    for profile in {d.profile.name: d.profile for d in config.devices}.values():
        for name in (profile.name, *profile.extends):
            found.append((directory / f"{name}.toml", f"the profile file of {name}"))
    return found


def check_outputs(
    config: HomeConfig,
    home_file: Path,
    *,
    report: Path | None,
    pcap: Path | None,
    inventory: Path | None = None,
) -> None:
    """Refuse, before the run, a `--report`, `--pcap` or `--inventory` path that cannot be
    written, that names the same file as another, or that names one of the home's inputs; and
    an inventory path holding a file that is no inventory (rows are added to an inventory)."""
    outputs = {"--report": report, "--pcap": pcap, "--inventory": inventory}
    _check_outputs(outputs, home_inputs(config, home_file))
    if inventory is not None:
        check_writable(inventory)
