"""One emulated home: a Comms Hub and its HAN devices on one Zigbee network, driven by a home file.

`load_home(path)` reads a home file (TOML, documented in docs/homes.md) into frozen dataclasses,
checks every key, resolves every device profile, and raises `HomeFileError` naming the file and
the key for anything wrong, e.g. `error: homes/x.toml: key device[2].profile: unknown profile
'ihd-opt9' (profiles: cad, hcalcs, ...)`.

`Home` runs one: a zigpy coordinator on the virtual radio is the Comms Hub; its Smart Energy
endpoint carries hanemu's OTA server (GB policies from `[server]`) or, with `implementation =
"zigpy"`, leaves OTA to zigpy's stock `update_firmware`; the head-end distributes each campaign's
image (DCC route: to the hub's store plus an Image Notify; Wi-Fi or local: straight to the
device) and, when a device's receipt alert reaches the hub over SE Tunneling, sends CS06 (or has
the hub activate a CH-managed device) as the campaign's `activate` and the device's profile say.
Everything runs on `emulator.radio.timeloop` (virtual time) unless `realtime`; every random choice
comes from one `random.Random` seeded by the home. This module owns wiring and reporting; it never
decides protocol behaviour (the OTA and GBCS machines do) and never reads wall time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zigpy.ota import OtaImageWithMetadata
from zigpy.ota.image import BaseOTAImage, OTAImageHeader
from zigpy.ota.providers import BaseOtaImageMetadata
from zigpy.zcl import foundation

from emulator.clock import RealClock
from emulator.device.campaign import (
    ActivationPlan,
    at_time,
    image_hash,
    profile_image,
)
from emulator.device.gbdevice import (
    GbDevice,
    activation_config,
    client_policy,
    device_entity_id,
    device_verifier,
    manufacturer_image,
)
from emulator.device.hub import HUB_DESCRIPTOR, HUB_ENDPOINT, CommsHub
from emulator.device.node import EmulatedNode
from emulator.device.tunnel import (
    HUB_INSTRUCTION_ACTIVATE,
    HUB_INSTRUCTION_TUNNEL_ID,
    TUNNELING_CLUSTER,
    transfer_data,
)
from emulator.errors import GbcsFormatError
from emulator.gbcs.frame import decode_frame
from emulator.gbcs.headend import HeadEnd
from emulator.gbcs.messages import (
    ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL,
    MSG_RECEIPT_ALERT_GBZ,
    ReceiptAlert,
)
from emulator.homefile import (  # noqa: F401  (re-exported for callers of emulator.home)
    DEFAULT_HOME,
    HOMES_DIR,
    CampaignConfig,
    DeviceConfig,
    HomeConfig,
    HomeFileError,
    load_home,
)
from emulator.ota import client as oc
from emulator.ota.image import build_image
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import ServerPolicy
from emulator.ota.server import ImageStore, OtaServer
from emulator.radio import timeloop, virtual
from emulator.radio.pcap import PcapWriter
from emulator.radio.virtual import VirtualNetwork
from emulator.testpki import DEFAULT_SEED, derive_key

# ---------------------------------------------------------------------------------------------
# Running a home

DCC_LATENCY_S = 30.0
"""From a receipt alert reaching the hub to the head-end's CS06 reaching the device."""
HUB_LATENCY_S = 5.0
"""From a receipt alert to the hub's own activation instruction (CH-managed devices)."""
WIFI_BYTES_PER_S = 20_000
LOCAL_VISIT_S = 3600.0
JOIN_SPACING_S = 0.5
CHECK_S = 5.0
SETTLE_S = 30.0


class RawFirmware(BaseOTAImage):
    """An OTA file as zigpy's OTA code serves it: its header and its bytes as they are (zigpy's
    own `OTAImage` re-serialises a tag walk, which a GB image does not have)."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.header, _ = OTAImageHeader.deserialize(self.data)

    @classmethod
    def deserialize(cls, data: bytes) -> tuple[RawFirmware, bytes]:
        return cls(data), b""

    def serialize(self) -> bytes:
        return self.data


@dataclass(slots=True)
class DeviceReport:
    name: str
    profile: str
    ieee: str
    route: str
    start_file_version: int
    final_file_version: int
    outcome: str
    reason: str | None
    bytes: int
    blocks: int
    retries: int
    power_losses: int
    download_seconds: float | None
    activation_response: int | None
    alerts: list[str]
    expect: str | None

    @property
    def as_expected(self) -> bool:
        if self.expect is not None:
            return self.outcome == self.expect
        return self.outcome != "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "profile": self.profile,
            "ieee": self.ieee,
            "route": self.route,
            "start_file_version": self.start_file_version,
            "final_file_version": self.final_file_version,
            "outcome": self.outcome,
            "reason": self.reason,
            "expect": self.expect,
            "as_expected": self.as_expected,
            "bytes": self.bytes,
            "blocks": self.blocks,
            "retries": self.retries,
            "power_losses": self.power_losses,
            "download_seconds": self.download_seconds,
            "activation_response": self.activation_response,
            "alerts": self.alerts,
        }


@dataclass(slots=True)
class HomeReport:
    home: str
    seed: int
    server: str
    virtual_seconds: float
    frames: int
    devices: list[DeviceReport]

    @property
    def ok(self) -> bool:
        return all(d.as_expected for d in self.devices)

    def to_json(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "seed": self.seed,
            "server": self.server,
            "virtual_seconds": self.virtual_seconds,
            "frames": self.frames,
            "ok": self.ok,
            "devices": [d.to_json() for d in self.devices],
        }


@dataclass(slots=True)
class _Member:
    config: DeviceConfig
    node: EmulatedNode
    gb: GbDevice | None
    campaign: CampaignConfig | None = None
    image: bytes | None = None
    distributed: bool = False
    zigpy_task: asyncio.Task | None = None


Progress = Callable[[str, int, int], None]


def _eui64(value: int) -> str:
    return ":".join(f"{b:02x}" for b in value.to_bytes(8, "big"))


class Home:
    """A Comms Hub (zigpy coordinator, OTA server, head-end link) and devices on one network."""

    def __init__(
        self,
        config: HomeConfig,
        *,
        seed: int | None = None,
        pcap: Path | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.seed = config.seed if seed is None else seed
        self.pcap = pcap
        self.progress = progress
        self.members: dict[int, _Member] = {}
        self.headend_log: list[tuple[float, str, str]] = []

    # -- images ---------------------------------------------------------------------------------

    def _image_for(self, campaign: CampaignConfig, device: DeviceConfig) -> bytes:
        if campaign.image is not None:
            return campaign.image.read_bytes()
        assert campaign.build is not None
        key = (campaign.build.file_version, campaign.build.size, campaign.supplier)
        cached = self._built.get((*key, device.profile.name))
        if cached is None:
            cached = profile_image(
                device.profile,
                file_version=campaign.build.file_version,
                size=campaign.build.size,
                seed=DEFAULT_SEED,  # the test PKI's seed: every device holds its keys
                supplier=campaign.supplier,
            )
            self._built[(*key, device.profile.name)] = cached
        return cached

    # -- running --------------------------------------------------------------------------------

    async def run(self) -> HomeReport:
        cfg = self.config
        loop = asyncio.get_running_loop()
        self.clock = clock = RealClock(loop)
        self._built: dict[tuple[int, int, str, str], bytes] = {}
        rng = random.Random(self.seed)
        f = cfg.faults
        faults = LinkPolicy(
            drop=f.drop_rate,
            duplicate=f.duplicate_rate,
            corrupt=f.corrupt_rate,
            latency_s=0.0,
            jitter_s=0.0,
        )
        net = VirtualNetwork(faults=faults, rng=random.Random(rng.getrandbits(64)))
        writer = PcapWriter.open(self.pcap) if self.pcap is not None else None
        if writer is not None:
            net.captures.append(writer)
        app = await virtual.start(net, extra_endpoints=[HUB_DESCRIPTOR])
        try:
            return await self._run(app, net, clock, rng)
        finally:
            await app.shutdown()
            if writer is not None:
                writer.close()

    async def _run(self, app, net, clock, rng: random.Random) -> HomeReport:
        cfg = self.config
        loop = asyncio.get_running_loop()
        srv = cfg.server
        when, delay = srv.upgrade_time
        self.store = ImageStore()
        server = OtaServer(
            self.store,
            ServerPolicy(
                block_size_cap=srv.max_block_size,
                min_block_period=srv.minimum_block_period or None,
                support_page_requests=srv.page_requests,
                upgrade_time=when,
                upgrade_delay_s=delay,
            ),
            tsn=rng.randrange(256),
        )
        self.hub = hub = CommsHub(app, server, clock, serve_ota=srv.implementation == "hanemu")
        hub.on_tunnel = self._from_device
        self.headend = HeadEnd(derive_key("acb"))
        self.app = app
        used: set[int] = {0x0000}
        for i, dc in enumerate(cfg.devices):
            nwk = 0
            while nwk in used:
                nwk = rng.randrange(0x0001, 0xFFF8)
            used.add(nwk)
            ieee = rng.getrandbits(64)
            member = self._make(dc, nwk, ieee, net, clock, random.Random(rng.getrandbits(64)))
            self.members[nwk] = member
            net.attach(member.node)
            clock.call_later(JOIN_SPACING_S * (i + 1), self._join, member.node)
        for campaign in cfg.campaigns:
            for dc in cfg.targets(campaign):
                member = next(m for m in self.members.values() if m.config is dc)
                member.campaign = campaign
            clock.call_at(campaign.at, self._distribute, campaign)
        deadline = cfg.duration
        while loop.time() < deadline:
            await asyncio.sleep(CHECK_S)
            if all(self._done(m) for m in self.members.values()):
                break
        end = loop.time()
        tasks = [m.zigpy_task for m in self.members.values() if m.zigpy_task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=120)
        await asyncio.sleep(SETTLE_S)
        return HomeReport(
            home=cfg.name,
            seed=self.seed,
            server=srv.implementation,
            virtual_seconds=round(end, 3),
            frames=net.frames,
            devices=[self._report(m) for m in self.members.values()],
        )

    def _make(self, dc: DeviceConfig, nwk, ieee, net, clock, rng) -> _Member:
        profile = dc.profile
        identity = replace(profile.zigbee, firmware_version=dc.firmware_version)
        running = build_image(
            f"running image of {dc.name}".encode(),
            manufacturer_id=identity.manufacturer_id,
            image_type=identity.image_type,
            file_version=dc.firmware_version,
        )
        gb_route = dc.route == "dcc"
        node = EmulatedNode(
            nwk=nwk,
            ieee=ieee,
            identity=identity,
            running_image=running,
            transmit=net.to_coordinator,
            clock=clock,
            rng=rng,
            policy=client_policy(profile) if gb_route else profile.ota,
            manufacturer="hanemu",
            model=f"{profile.device_type} {profile.name}",
            verifier=(
                None
                if profile.ota.verification == "none"
                else device_verifier(activation_config(profile, ieee))
            ),
            power_loss_at=self.config.faults.power_loss_at,
        )
        if self.progress is not None:
            name = dc.name
            node.on_progress = lambda done, total: self.progress(name, done, total)
        gb = None
        if gb_route:
            tsn = itertools.count(rng.randrange(256))

            def send(data: bytes, node: EmulatedNode = node) -> None:
                frame = transfer_data(
                    next(tsn) & 0xFF, data, direction=foundation.Direction.Client_to_Server
                )
                node.send_zcl(TUNNELING_CLUSTER, frame, dst_ep=HUB_ENDPOINT)

            gb = GbDevice.for_profile(node, profile, ieee, send=send, now=self._now)
        return _Member(dc, node, gb)

    def _now(self) -> dt.datetime:
        return at_time(int(self.clock.now))  # GBCS times are whole seconds

    def _join(self, node: EmulatedNode) -> None:
        node.power_on()
        node.announce()

    def _distribute(self, campaign: CampaignConfig) -> None:
        """The head-end sends the image to the hub (DCC route) or the device gets it directly."""
        for dc in self.config.targets(campaign):
            member = next(m for m in self.members.values() if m.config is dc)
            if member.campaign is not campaign:
                continue
            data = self._image_for(campaign, dc)
            member.image = data
            member.distributed = True
            node = member.node
            if dc.route == "wifi":
                seconds = len(data) / WIFI_BYTES_PER_S
                self.clock.call_later(seconds, node.install, data, "over Wi-Fi")
            elif dc.route == "local":
                self.clock.call_later(LOCAL_VISIT_S, node.install, data, "at a site visit")
            elif self.config.server.implementation == "zigpy":
                member.zigpy_task = asyncio.get_running_loop().create_task(
                    self._zigpy_update(member, data)
                )
            else:
                self.store.add(data)
                self.hub.notify(node.nwk, node.ota_endpoint)

    async def _zigpy_update(self, member: _Member, data: bytes) -> Any:
        """zigpy's stock `update_firmware` (its OTAManager) serves the device."""
        device = None
        while device is None or not device.is_initialized:
            await asyncio.sleep(1.0)
            device = self.app.devices.get(member.node.ieee)
        firmware = RawFirmware(data)
        header = firmware.header
        image = OtaImageWithMetadata(
            metadata=BaseOtaImageMetadata(
                file_version=header.file_version,
                manufacturer_id=header.manufacturer_id,
                image_type=header.image_type,
            ),
            firmware=firmware,
        )
        return await device.update_firmware(image)

    def _from_device(self, nwk: int, data: bytes) -> None:
        """A device's GBCS response or alert reached the hub (and the head-end behind it)."""
        member = self.members.get(nwk)
        if member is None:
            return
        try:
            frame = decode_frame(data)
        except GbcsFormatError:
            return
        code = frame.header.message_code
        self.headend_log.append((self.clock.now, member.config.name, f"0x{code:04X}"))
        if code != MSG_RECEIPT_ALERT_GBZ or member.campaign is None or member.image is None:
            return
        try:
            alert = ReceiptAlert.from_der(frame.payload)
        except GbcsFormatError:
            return
        if alert.alert_code != ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL:
            return
        plan = ActivationPlan(mode=member.campaign.activate, supplier=member.campaign.supplier)
        profile = member.config.profile
        mode = plan.resolved_mode(profile)
        node = member.node
        if mode == "ch-managed":
            instruct = functools.partial(self.hub.send_tunnel, tunnel_id=HUB_INSTRUCTION_TUNNEL_ID)
            self.clock.call_later(
                HUB_LATENCY_S, instruct, nwk, node.ota_endpoint, HUB_INSTRUCTION_ACTIVATE
            )
            return
        commands = plan.commands(
            device_entity_id(node.ieee_int),
            derive_key(f"{profile.name}-ka").public_key(),
            image_hash(manufacturer_image(member.image)),
            mode=mode,
            headend=self.headend,
        )
        for i, command in enumerate(commands):
            self.clock.call_later(
                DCC_LATENCY_S + i * HUB_LATENCY_S,
                self.hub.send_tunnel,
                nwk,
                node.ota_endpoint,
                command,
            )

    def _done(self, m: _Member) -> bool:
        node = m.node
        if m.zigpy_task is not None and not m.zigpy_task.done():
            return False
        if m.campaign is None:
            return m.config.route != "dcc" or node.outcome is not None
        if not m.distributed:
            return False
        if node.outcome in ("activated", "rejected"):
            return True  # "failed" is not the end: the client queries again and may resume
        if node.downloaded and node.client.state in (
            oc.State.UPGRADE_VIA_OUT_OF_BAND,
            oc.State.WAITING_FOR_UPGRADE_MESSAGE,
        ):
            plan = ActivationPlan(mode=m.campaign.activate, supplier=m.campaign.supplier)
            if plan.resolved_mode(m.config.profile) == "none":
                return True
            return m.gb is not None and m.gb.log.verdict not in (None, "accepted")
        return False

    def _report(self, m: _Member) -> DeviceReport:
        node = m.node
        outcome, reason = node.outcome, node.reason
        if outcome is None or (outcome == "no-image" and node.downloaded):
            if node.downloaded:
                outcome = "downloaded"
                verdict = m.gb.log.verdict if m.gb is not None else None
                reason = (
                    f"activation refused: {verdict}"
                    if verdict not in (None, "accepted")
                    else "waiting for activation"
                )
            elif m.campaign is None:
                outcome, reason = "no-image", "no campaign for this device"
            else:
                outcome, reason = "failed", "no outcome within the home's duration"
        started, finished = node.stats.download_started, node.stats.download_finished
        return DeviceReport(
            name=m.config.name,
            profile=m.config.profile.name,
            ieee=_eui64(node.ieee_int),
            route=m.config.route,
            start_file_version=node.start_file_version,
            final_file_version=node.flash.running_version,
            outcome=outcome,
            reason=reason,
            bytes=node.stats.bytes,
            blocks=node.stats.blocks,
            retries=node.client.retries,
            power_losses=node.stats.power_losses,
            download_seconds=(
                round(finished - started, 3)
                if started is not None and finished is not None
                else None
            ),
            activation_response=m.gb.log.activation_response if m.gb is not None else None,
            alerts=list(m.gb.log.alerts) if m.gb is not None else [],
            expect=m.config.expect,
        )


def run_home(
    config: HomeConfig,
    *,
    seed: int | None = None,
    pcap: Path | None = None,
    realtime: bool = False,
    progress: Progress | None = None,
) -> HomeReport:
    """Run a home to its end: in virtual time, or in real time with `realtime`."""
    home = Home(config, seed=seed, pcap=pcap, progress=progress)
    return timeloop.run(home.run(), realtime=realtime)
