"""One scenario engine for every run: a Comms Hub, its devices, campaigns and faults, on an air.

A `Scenario` is plain data: the hub's server policy, the devices (profile, route, firmware, fault
plan), the campaigns (which image, how to activate), the link faults, the time budget
(`duration`), the air and the seed. `hanemu ota simulate`, `hanemu home run` (`emulator.home`)
and later fleets all build one and call `run`, which plays it in virtual time (`radio.timeloop`)
or, with `realtime`, on the wall clock, and returns one `ScenarioReport`. `virtual_seconds` is
always scenario time: from the start to the moment every device settled, or the duration. A pcap
is written whole when the run ends (or not at all when it fails); other captures (a live ZEP
stream, `radio.zep.ZepSink`) see every frame as it lands. With an `Interruption`, SIGINT or
SIGTERM ends the run at its next step and the report says `interrupted`. With an `inventory`
(`emulator.inventory`), the head-end records every firmware switch in it.

Every random choice comes from one `random.Random(seed)`, so a run replays exactly. This module
owns building and running a scenario; it never decides what a device, the hub or the head-end
does (`emulator.device`) and never reads wall time itself.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emulator.clock import Clock, LoopPacer, Pacer, StepPacer, run_stepped
from emulator.device.campaign import ActivationMode, ActivationPlan, profile_image, seconds_at
from emulator.device.emulated import EmulatedDevice, PowerCut
from emulator.device.flash import MemoryFlash
from emulator.device.gbdevice import activation_config, client_policy, device_verifier
from emulator.device.headend import DeviceCampaign, HeadEndRunner
from emulator.device.hub import CommsHub
from emulator.device.messaging import (
    MESSAGING_CLUSTER,
    DisplayMessage,
    activation_text,
    encode_display_message,
)
from emulator.device.report import DeviceReport, device_report, settled
from emulator.errors import ImageFormatError, ScenarioError
from emulator.files import read_input
from emulator.gbcs.activation import ACTIVATION_RULES
from emulator.interrupt import Interruption
from emulator.inventory import Inventory
from emulator.ota import client as oc
from emulator.ota.client import OutcomeKind
from emulator.ota.image import build_image, parse_header
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import ClientPolicy, ServerPolicy
from emulator.ota.server import ImageStore, OtaServer
from emulator.profiles import (
    OTA_CLUSTER,
    SMART_ENERGY_PROFILE,
    DeviceProfile,
    Endpoint,
    NodeType,
    Provenance,
    Route,
    ZigbeeIdentity,
)
from emulator.radio import timeloop
from emulator.radio.air import make_air, wall_clock
from emulator.radio.pcap import PcapWriter
from emulator.testpki import DEFAULT_SEED
from emulator.wifi.route import WifiPlan, WifiRoute

JOIN_SPACING_S = 0.5
"""Between one device joining and the next (the first joins this long after the start)."""
DEFAULT_DURATION_S = 2 * 86400.0
ROGUE_SETTLE_S = 10.0
"""After a rogue node sent its message: time for it to land and the target to act on it."""
SETTLE_S = 1.0
"""Scenario time after every device settled in which frames in the air still land."""


@dataclass(frozen=True, slots=True)
class Consent:
    """The consumer of a home, as a device that asks for consent meets them."""

    answer: str = "accept"
    """ "accept", "decline", or "none" (never answers: the device's wait times out)."""
    after_s: float = 60.0
    """How long the consumer takes to answer."""


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device of a scenario."""

    name: str
    zigbee: ZigbeeIdentity
    """How it looks on Zigbee; `firmware_version` is what it runs at the start."""
    policy: ClientPolicy
    profile: DeviceProfile | None = None
    """None: a plain Zigbee OTA client, activated by the OTA server."""
    route: Route = Route.DCC
    expect: OutcomeKind | None = None
    power_cuts: tuple[PowerCut, ...] = ()
    running_image: bytes | None = None
    """Default: a small image of `zigbee.firmware_version`."""
    verifier: oc.Verifier | None = None
    """Default: the profile's GB checks, or every file check for a plain client."""
    flash: MemoryFlash | None = None
    ieee: int | None = None
    """Default: drawn from the scenario's seed."""
    provenance: Provenance | None = None
    """Who provided this device, when not as its profile says (a consumer-bought IHD)."""
    lead_supplier: str | None = None
    """On a device two suppliers share: the party ("A", "B") whose activation it accepts."""
    consent: Consent = field(default_factory=lambda: Consent())
    expect_findings: tuple[str, ...] | None = None
    """The kinds of security finding the run must show for this device (None: not checked)."""
    hops: int = 1
    """Radio hops between the device and the Comms Hub."""


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """Firmware for some devices: a file, or a GB image built to fit each device's profile."""

    devices: tuple[str, ...]
    image: bytes | None = None
    build_version: int | None = None
    build_size: int = 65536
    build_seed: int = DEFAULT_SEED
    """Draws a built image's Manufacturer Image."""
    supplier: str = "A"
    """Who signs a built image (A, B, rogue, forged)."""
    plan: ActivationPlan = field(default_factory=ActivationPlan)
    at: float = 0.0
    """When the head-end distributes it."""
    activate_at: float | None = None
    """Send the activation at this time instead of on the receipt alert."""
    wifi: str = "genuine"
    """What the update server serves a Wi-Fi device (`emulator.wifi.plan.VARIANTS`)."""
    trigger: str = "supplier"
    """Who triggers a reactive Wi-Fi device: the supplier as it publishes, or "manual"."""


@dataclass(frozen=True, slots=True)
class RogueSpec:
    """A rogue HAN node: it holds the network key and sends a device its own Display Message."""

    name: str
    target: str
    """The device it sends to (a device name of the scenario)."""
    at: float
    text: str | None = None
    """Default: the activation text for the image the target's campaign distributed (its hash
    is public: it names a published image)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    devices: tuple[DeviceSpec, ...]
    campaigns: tuple[CampaignSpec, ...] = ()
    server: ServerPolicy = field(default_factory=ServerPolicy)
    server_implementation: str = "hanemu"
    faults: LinkPolicy = field(default_factory=LinkPolicy)
    duration: float = DEFAULT_DURATION_S
    radio: str = "direct"
    seed: int = 0
    pki_seed: int = DEFAULT_SEED
    dcc_latency_s: float | None = None
    """Default: `headend.DCC_LATENCY_S`."""
    rogues: tuple[RogueSpec, ...] = ()

    def needs_esme(self) -> bool:
        """Whether the home's ESME takes part: a device activated by Display Message, a
        campaign that asks for one, or a rogue node whose messages are told apart from it."""
        return (
            bool(self.rogues)
            or any(
                d.profile is not None
                and ACTIVATION_RULES[d.profile.activation].display_message_activates
                for d in self.devices
            )
            or any(c.plan.mode is ActivationMode.DISPLAY_MESSAGE for c in self.campaigns)
        )


@dataclass(slots=True)
class ScenarioReport:
    name: str
    seed: int
    radio: str
    server: str
    virtual_seconds: float
    frames: int
    devices: list[DeviceReport]
    interrupted: int | None = None
    """The signal that stopped the run before its end (SIGINT, SIGTERM), or None."""
    real_devices: list[dict[str, Any]] | None = None
    """What the hub saw of each real device (an `ezsp:` air's dongle), or None on other airs."""

    @property
    def ok(self) -> bool:
        return all(d.as_expected for d in self.devices)

    def to_json(self) -> dict[str, Any]:
        data = {
            "home": self.name,
            "seed": self.seed,
            "radio": self.radio,
            "server": self.server,
            "virtual_seconds": self.virtual_seconds,
            "frames": self.frames,
            "ok": self.ok,
            "devices": [d.to_json() for d in self.devices],
        }
        if self.real_devices is not None:
            data["real_devices"] = self.real_devices
        if self.interrupted is not None:  # only then: a whole run's report has no such key
            data["interrupted"] = True
        return data


Progress = Callable[[str, int, int], None]
Capture = Callable[[Any, float], None]
"""Sees each frame on the air (a zigpy packet) and the loop's time: a pcap writer, a ZEP sink."""


def run(
    scenario: Scenario,
    *,
    realtime: bool = False,
    pcap: Path | None = None,
    progress: Progress | None = None,
    interruption: Interruption | None = None,
    captures: Sequence[Capture] = (),
    inventory: Inventory | None = None,
    on_wifi_server: Callable[[str], None] | None = None,
) -> ScenarioReport:
    """Play a scenario to its end: in virtual time, or on the wall clock with `realtime`; a
    signal `interruption` catches ends it early. `captures` (e.g. a `radio.zep.ZepSink`, owned
    by the caller) see every frame on the air, as the pcap does; `inventory` (owned by the
    caller) gets a row for every firmware switch; `on_wifi_server` is told the Wi-Fi update
    server's URL when the scenario has one."""
    engine = ScenarioRun(scenario, pcap, progress, captures=captures, inventory=inventory)
    engine.interruption = interruption
    engine.on_wifi_server = on_wifi_server
    return engine.run(realtime=realtime)


class ScenarioRun:
    """One play of a scenario; after `play` its hub, air, head-end and devices stay readable."""

    def __init__(
        self,
        scenario: Scenario,
        pcap: Path | None,
        progress: Progress | None,
        *,
        captures: Sequence[Capture] = (),
        server: OtaServer | None = None,
        inventory: Inventory | None = None,
    ) -> None:
        self.scenario = scenario
        self.inventory = inventory
        """Where the head-end records every firmware switch (None: no listener at all)."""
        self.pcap = pcap
        self.captures = tuple(captures)
        """Called with every frame on the air and its time, after the pcap."""
        self.server = server
        """The hub's OTA server, when the caller brings its own (a test's), instead of one
        built from the scenario's server policy."""
        self.progress = progress
        self.devices: list[tuple[DeviceSpec, EmulatedDevice]] = []
        self.on_device: list[Callable[[EmulatedDevice], None]] = []
        """Called with each device once it is built, before it has power."""
        self.hold_until: float | None = None
        """Keep time running until then even when every device settled earlier (tests)."""
        self.interruption: Interruption | None = None
        """Signals that end the run early (attached to the pacer while it plays)."""
        self.wifi: WifiRoute | None = None
        """The Wi-Fi route (update server and updaters) when a device is on it."""
        self.on_wifi_server: Callable[[str], None] | None = None
        """Told the Wi-Fi update server's URL once it listens."""
        self._built: dict[tuple[Any, ...], bytes] = {}
        self.esme_nwk: int | None = None
        self._message_id = 0
        self._rogues_waiting = 0
        """Rogue nodes that have not sent yet: the run lasts until they have."""
        self._unsettled: set[int] = set()
        """Devices not settled at their last change (checked one device at a time, so the
        cost of a change does not grow with the number of devices)."""

    def run(self, *, realtime: bool = False) -> ScenarioReport:
        """Play to the end: on the direct air in virtual time with no event loop (the fast
        path), otherwise on hanemu's asyncio loop, in virtual time unless `realtime` (or an air
        that can only run on the wall clock)."""
        realtime = realtime or wall_clock(self.scenario.radio)
        wifi = any(spec.route == Route.WIFI for spec in self.scenario.devices)  # real HTTP
        if realtime or self.scenario.radio != "direct" or wifi:
            return timeloop.run(self.play(LoopPacer), realtime=realtime)
        return run_stepped(self.play(StepPacer))

    async def play(self, pacing: Callable[[], Pacer]) -> ScenarioReport:
        """Run to the end; `pacing` makes the pacer (made here, inside the loop it may need).
        The pcap is opened before the network starts and put in place only if the run ends
        (its end, or an interruption); a failed write ends the run as an `OutputError`."""
        pacer = pacing()
        self.clock = pacer.clock
        writer = None if self.pcap is None else PcapWriter.open(self.pcap, on_error=pacer.stop)
        interruption = self.interruption
        if interruption is not None:
            interruption.attach(pacer.stop)
        try:
            report = await self._play(pacer, writer)
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        finally:
            if interruption is not None:
                interruption.detach(pacer.stop)
        if writer is not None:
            writer.close()  # the whole capture in place, or its write error raised
        if pacer.stopped and interruption is not None:
            report.interrupted = interruption.signum
        return report

    async def _play(self, pacer: Pacer, writer: PcapWriter | None) -> ScenarioReport:
        s = self.scenario
        clock = self.clock
        rng = random.Random(s.seed)
        tsn = rng.randrange(256)  # drawn either way: the rest of the run replays the same
        server = self.server or OtaServer(ImageStore(), s.server, tsn=tsn)
        if self.captures and s.radio == "direct":
            raise ScenarioError(
                "a live capture (ZEP) needs the zigpy radio (the direct air has no Zigbee frames)"
            )
        captures = ([] if writer is None else [writer]) + list(self.captures)
        air = make_air(
            s.radio,
            clock=clock,
            rng=random.Random(rng.getrandbits(64)),
            faults=s.faults,
            pcap=_every(captures, clock) if captures else None,
            zigpy_server=s.server_implementation == "zigpy",
        )
        self.air = air
        self.hub = hub = CommsHub(server, clock, air.hub_send)
        latency = {} if s.dcc_latency_s is None else {"dcc_latency_s": s.dcc_latency_s}
        if any(spec.route == Route.WIFI for spec in s.devices):
            self.wifi = WifiRoute(clock, pki_seed=s.pki_seed)
        self.headend = HeadEndRunner(
            clock,
            hub,
            air.offer,
            wifi=None if self.wifi is None else self.wifi.publish,
            pki_seed=s.pki_seed,
            inventory=self.inventory,
            home=s.name,
            seed=s.seed,
            **latency,
        )
        self._wake = pacer.wake
        try:
            if self.wifi is not None:
                url = await self.wifi.start()
                if self.on_wifi_server is not None:
                    self.on_wifi_server(url)
            await air.start(hub)
            self._make_devices(air, rng)
            self._han_nodes(air, rng)
            self._plan_campaigns()
            # Real devices come and go unseen by the scenario: such an air runs its duration.
            busy = air.runs_to_duration
            while (
                (self._unsettled or busy or self._rogues_waiting)
                and clock.now < s.duration
                and not pacer.stopped
            ):
                await pacer.until_woken(s.duration)  # a wake may come early: check again
            end = min(clock.now, s.duration)
            if end < s.duration:  # let frames already in the air land (the server logs them)
                await pacer.sleep(min(SETTLE_S, s.duration - end))
            if self.hold_until is not None:
                await pacer.sleep(max(0.0, self.hold_until - clock.now))
            reports = [self._report(spec, device) for spec, device in self.devices]
            real = air.real_devices()
            frames = air.frames
        finally:
            for _spec, device in self.devices:
                device.on_change = _nothing
            try:
                await air.stop()
            finally:
                if self.wifi is not None:
                    await self.wifi.stop()
        return ScenarioReport(
            name=s.name,
            seed=s.seed,
            radio=s.radio,
            server=s.server_implementation,
            virtual_seconds=round(end, 6),
            frames=frames,
            devices=reports,
            real_devices=real,
        )

    # -- building -------------------------------------------------------------------------------

    def _make_devices(self, air: Any, rng: random.Random) -> None:
        used = {0x0000}
        for i, spec in enumerate(self.scenario.devices):
            nwk = _new_address(rng, used)
            ieee = rng.getrandbits(64) if spec.ieee is None else spec.ieee
            device = self._device(spec, nwk, ieee, random.Random(rng.getrandbits(64)))
            device.hops = spec.hops
            self.devices.append((spec, device))
            model = "plain OTA client" if spec.profile is None else spec.profile.name
            air.attach(device, model=f"{_device_type(spec)} {model}")
            if spec.route == Route.WIFI and self.wifi is not None:
                self.wifi.add(device, spec.profile, spec.consent)
            self._unsettled.add(nwk)
            device.on_change = functools.partial(self._check, spec, device)
            if self.inventory is not None:
                device.on_activated.append(self.headend.activated)
            for callback in self.on_device:
                callback(device)
            if self.progress is not None:
                name, report = spec.name, self.progress
                device.on_progress = lambda done, total, n=name, r=report: r(n, done, total)
            self.clock.call_later(JOIN_SPACING_S * (i + 1), air.join, device)

    def _han_nodes(self, air: Any, rng: random.Random) -> None:
        """The ESME (when the home needs it) and the rogue nodes, with addresses drawn after
        the devices' (a home without them draws nothing more)."""
        s = self.scenario
        if not s.needs_esme():
            return
        used = {0x0000} | {device.nwk for _spec, device in self.devices}
        self.esme_nwk = _new_address(rng, used)
        for _spec, device in self.devices:
            device.esme_nwk = self.esme_nwk
        self.headend.display = lambda device, text: self._display(self.esme_nwk, device, text)
        by_name = {spec.name: device for spec, device in self.devices}
        for rogue in s.rogues:
            target = by_name.get(rogue.target)
            if target is None:
                raise ScenarioError(f"rogue node {rogue.name}: no device named {rogue.target!r}")
            self._rogues_waiting += 1
            self.clock.call_at(rogue.at, self._rogue_sends, rogue, _new_address(rng, used), target)

    def _display(self, src: int, device: EmulatedDevice, text: str) -> None:
        """HAN node `src` sends `device` a Display Message with `text`."""
        self._message_id += 1
        frame = encode_display_message(
            self._message_id, DisplayMessage(0x48450000 + self._message_id, text)
        )
        self.air.node_send(src, device.nwk, MESSAGING_CLUSTER, frame)

    def _rogue_sends(self, rogue: RogueSpec, nwk: int, target: EmulatedDevice) -> None:
        self._rogues_waiting -= 1
        text = rogue.text
        campaign = self.headend.campaigns.get(target.nwk)
        if text is None and campaign is not None and campaign.image_hash is not None:
            text = activation_text(campaign.image_hash)
        if text is not None:
            self._display(nwk, target, text)
        # Whatever the target makes of it, look again once it has landed and been acted on.
        self.clock.call_later(ROGUE_SETTLE_S, self._check_all)

    def _check_all(self) -> None:
        for spec, device in self.devices:
            self._check(spec, device)
        if not self._unsettled and not self._rogues_waiting:
            self._wake()

    def _device(self, spec: DeviceSpec, nwk: int, ieee: int, rng: random.Random):
        return build_device(
            spec, clock=self.clock, nwk=nwk, ieee=ieee, rng=rng, pki_seed=self.scenario.pki_seed
        )

    def _plan_campaigns(self) -> None:
        by_name = {spec.name: (spec, device) for spec, device in self.devices}
        for campaign in self.scenario.campaigns:
            for name in campaign.devices:
                spec, device = by_name[name]
                plan = campaign.plan
                mode = ActivationMode.NONE  # a plain client, or a device off the DCC route
                if spec.profile is not None and spec.route == Route.DCC:
                    mode = plan.resolved_mode(spec.profile)
                dc = DeviceCampaign(
                    device,
                    spec.route,
                    plan,
                    mode,
                    activate_at=campaign.activate_at,
                    profile=spec.profile,
                    provenance=spec.provenance,
                )
                self.headend.add(dc)
                if spec.route == Route.WIFI and self.wifi is not None:
                    self.wifi.plan(name, WifiPlan(campaign.wifi, campaign.trigger))
                image = self._image(campaign, spec)
                self.clock.call_at(campaign.at, self.headend.distribute, dc, image)

    def _image(self, campaign: CampaignSpec, spec: DeviceSpec) -> bytes:
        """The campaign's file, or the GB image built for the device's OTA identity: devices
        that share manufacturer, image type and hardware get the same image."""
        if campaign.image is not None:
            return campaign.image
        if spec.profile is None:
            raise ScenarioError(f"device {spec.name}: a built image needs a device profile")
        z = spec.zigbee
        key = (
            id(campaign),
            z.manufacturer_id,
            z.image_type,
            z.hardware_version,
        )
        if key not in self._built:
            self._built[key] = profile_image(
                spec.profile,
                file_version=campaign.build_version,
                size=campaign.build_size,
                seed=campaign.build_seed,
                supplier=campaign.supplier,
                pki_seed=self.scenario.pki_seed,
            )
        return self._built[key]

    # -- ending ---------------------------------------------------------------------------------

    def _check(self, spec: DeviceSpec, device: EmulatedDevice) -> None:
        """Something about one device changed: is it settled now, and is every device?"""
        campaign = self.headend.campaigns.get(device.nwk)
        if settled(device, campaign, on_han=spec.route == Route.DCC):
            self._unsettled.discard(device.nwk)
            if not self._unsettled and not self._rogues_waiting:
                self._wake()
        else:
            self._unsettled.add(device.nwk)

    def _report(self, spec: DeviceSpec, device: EmulatedDevice) -> DeviceReport:
        return device_report(
            device,
            self.headend.campaigns.get(device.nwk),
            profile=None if spec.profile is None else spec.profile.name,
            route=spec.route,
            expect=spec.expect,
            expect_findings=spec.expect_findings,
        )


def build_device(
    spec: DeviceSpec,
    *,
    clock: Any,
    nwk: int,
    ieee: int,
    rng: random.Random,
    pki_seed: int = DEFAULT_SEED,
) -> EmulatedDevice:
    """The emulated device a spec describes, as every run builds it (the scenario engine, and
    the emulated NCP's home): its running image, GB activation on the DCC route, verifier."""
    z = spec.zigbee
    running = spec.running_image or build_image(
        f"running image of {spec.name}".encode(),
        manufacturer_id=z.manufacturer_id,
        image_type=z.image_type,
        file_version=z.firmware_version,
    )
    gb = spec.profile is not None and spec.route == Route.DCC
    config = (
        activation_config(spec.profile, ieee, seed=pki_seed, lead_supplier=spec.lead_supplier)
        if spec.profile is not None
        else None
    )
    verifier = spec.verifier
    if verifier is None and config is not None and spec.policy.verification != "none":
        verifier = device_verifier(spec.profile, config)
    return EmulatedDevice(
        name=spec.name,
        clock=clock,
        nwk=nwk,
        ieee=ieee,
        zigbee=z,
        running_image=running,
        policy=spec.policy,
        rng=rng,
        verifier=verifier,
        activation=config if gb else None,
        power_cuts=spec.power_cuts,
        flash=spec.flash,
    )


def _new_address(rng: random.Random, used: set[int]) -> int:
    """A NWK address drawn from `rng` that no node in `used` holds (then held)."""
    nwk = 0
    while nwk in used:
        nwk = rng.randrange(0x0001, 0xFFF8)
    used.add(nwk)
    return nwk


def _nothing() -> None:
    pass


def _every(captures: list[Capture], clock: Clock) -> Capture:
    """One capture that hands each frame to every one of `captures`, in order, stamped with
    scenario time: the air passes its loop's time, which on the wall clock is not the run's."""

    def capture(packet: Any, _loop_time: float) -> None:
        now = clock.now
        for each in captures:
            each(packet, now)

    return capture


def _device_type(spec: DeviceSpec) -> str:
    return "device" if spec.profile is None else str(spec.profile.device_type)


def profile_device(
    name: str,
    profile: DeviceProfile,
    *,
    route: Route | str | None = None,
    firmware_version: int | None = None,
    expect: OutcomeKind | None = None,
    power_cuts: tuple[PowerCut, ...] = (),
    policy: ClientPolicy | None = None,
    **more: Any,
) -> DeviceSpec:
    """A device of a profile, on its first route unless told otherwise."""
    route = Route(route or profile.routes[0])
    if route not in profile.routes and route is not Route.DCC:  # the DCC says why it refuses
        raise ScenarioError(
            f"device {name}: profile {profile.name} allows routes "
            f"{', '.join(map(str, profile.routes))}, not '{route}'"
        )
    zigbee = profile.zigbee
    if firmware_version is not None:
        zigbee = replace(zigbee, firmware_version=firmware_version)
    if policy is None:
        policy = client_policy(profile) if route == Route.DCC else profile.ota
    return DeviceSpec(
        name=name,
        zigbee=zigbee,
        policy=policy,
        profile=profile,
        route=route,
        expect=expect,
        power_cuts=power_cuts,
        **more,
    )


GB_DEVICE_IEEE = 0x00DB1234567890B1
"""EUI-64 (and so GBCS entity id) of the device `one_device` emulates for a profile."""
PLAIN_DEVICE_IEEE = 0x0000000000000001
FUTURE_MARGIN_S = 3600.0
"""Scenario time kept after a future-dated activation's time."""


def read_image(path: Path) -> bytes:
    """An OTA file from disk, refused at once (one line naming the file) if it is not one."""
    data = read_input(path)
    check_image(data, str(path))
    return data


def check_image(data: bytes, source: str) -> None:
    """Refuse bytes that are no OTA file, naming where they came from."""
    try:
        parse_header(data)
    except ImageFormatError as exc:
        raise ImageFormatError(
            f"{source}: {exc.what}", field=exc.field, offset=exc.offset
        ) from None


def one_device(
    *,
    profile: DeviceProfile | None,
    image: bytes | None,
    plan: ActivationPlan,
    image_size: int = 65536,
    current_version: int | None = None,
    max_data_size: int | None = None,
    page_size: int | None = None,
    server: ServerPolicy | None = None,
    faults: LinkPolicy | None = None,
    power_loss: tuple[float, ...] = (),
    seed: int = 0,
    radio: str = "direct",
) -> Scenario:
    """One device against the hub's server: a GB device of `profile` (its DCC route, an image
    built to fit it unless `image`, the head-end carrying out `plan`), or with no profile a
    plain Zigbee OTA client of the image's manufacturer and type."""
    cuts = tuple(PowerCut(at_fraction=f) for f in power_loss)
    if profile is not None:
        if Route.DCC not in profile.routes:
            raise ScenarioError(
                f"profile {profile.name} is never offered a HAN download (routes: "
                f"{', '.join(map(str, profile.routes))}); run it in a home with its route"
            )
        policy = client_policy(profile)
        if max_data_size is not None:
            policy = policy.replace(max_data_size=max_data_size)
        if page_size is not None:
            policy = policy.replace(use_page_requests=True, page_size=page_size)
        z = profile.zigbee
        version = z.firmware_version if current_version is None else current_version
        device = profile_device(
            "device",
            profile,
            route=Route.DCC,
            firmware_version=version,
            power_cuts=cuts,
            policy=policy,
            ieee=GB_DEVICE_IEEE,
            running_image=_running(
                profile.zigbee.manufacturer_id, profile.zigbee.image_type, version
            ),
        )
        campaign = CampaignSpec(
            devices=("device",), image=image, build_size=image_size, build_seed=seed, plan=plan
        )
    else:
        if image is None:
            raise ScenarioError("a plain OTA client needs an image")
        header = parse_header(image)
        version = max(0, header.file_version - 1) if current_version is None else current_version
        device = DeviceSpec(
            name="device",
            zigbee=plain_identity(header.manufacturer_id, header.image_type, version),
            policy=ClientPolicy(
                # By default the largest block one APS-encrypted SE frame holds.
                **({} if max_data_size is None else {"max_data_size": max_data_size}),
                use_page_requests=page_size is not None,
                page_size=page_size or 1024,
            ),
            power_cuts=cuts,
            ieee=PLAIN_DEVICE_IEEE,
            running_image=_running(header.manufacturer_id, header.image_type, version),
        )
        campaign = CampaignSpec(devices=("device",), image=image, plan=plan)
    duration = DEFAULT_DURATION_S
    if plan.at is not None and not plan.cancel:
        duration = max(duration, seconds_at(plan.at) + FUTURE_MARGIN_S)
    return Scenario(
        name="ota simulate",
        devices=(device,),
        campaigns=(campaign,),
        server=server or ServerPolicy(),
        faults=faults or LinkPolicy(),
        duration=duration,
        radio=radio,
        seed=seed,
    )


def plain_identity(manufacturer_id: int, image_type: int, version: int) -> ZigbeeIdentity:
    """How a plain Zigbee OTA client looks on the air: one Smart Energy endpoint with the OTA
    and Tunneling clusters as client."""
    return ZigbeeIdentity(
        profile_id=SMART_ENERGY_PROFILE,
        device_id=0x0507,
        manufacturer_id=manufacturer_id,
        image_type=image_type,
        hardware_version=0,
        firmware_version=version,
        node_type=NodeType("router"),
        sleepy=False,
        endpoints=(Endpoint(1, (0x0000,), (OTA_CLUSTER, 0x0704)),),
    )


def _running(manufacturer_id: int, image_type: int, version: int) -> bytes:
    return build_image(
        b"running image",
        manufacturer_id=manufacturer_id,
        image_type=image_type,
        file_version=version,
    )
