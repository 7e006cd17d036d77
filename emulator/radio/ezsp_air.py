"""The Comms Hub on stock bellows: the NCP air and the dongle air.

Both run the zigpy air's hub (`ZigpyAir`: the hub's OTA server and GBCS tunnel on its Smart
Energy endpoint) on `BellowsHub`, stock bellows' `ControllerApplication` with the
`SmartEnergyHost` mixin (Smart Energy device objects, the hub's endpoint routed to the hub, raw
ZCL sent from it; nothing of bellows' EZSP, ASH or network code is changed).

* `ncp` (`NcpAir`): bellows talks over loopback TCP (`socket://127.0.0.1:PORT`) to hanemu's own
  emulated NCP (`radio.ncp.server.NcpServer`), started by the air on an ephemeral port, with the
  scenario's devices on the air behind it (`NcpHome`). bellows forms the network, connects again
  (the NCP drops a host's endpoints on every reset, as firmware does, and bellows registers them
  only when it connects) and opens the network; each device joins through the NCP
  (`trustCenterJoinHandler`, Device_annce). The sockets are real and time is the run's (virtual
  time by default), so a run is reproducible from its seed.
* `ezsp:PATH` (`EzspAir`), the hybrid home: the hub has two radios. Its emulated devices are on
  the in-process network of the zigpy air, as they are there; the dongle at PATH (a serial device
  or `socket://host:port`) is a second coordinator, on bellows, whose network real devices join.
  Both hand frames to the one hub (one OTA store, one head-end), which answers through whichever
  radio the device is on. Emulated devices cannot be separate nodes of the dongle's radio (every
  endpoint of an NCP is the one coordinator node), so they stay in process. A real device is told
  of each image the home's campaigns put in the store (Image Notify) and is served as any query
  matches the store; what the hub saw of it (queries, blocks, Upgrade End) is its `RealDevice`
  record. The head-end runs no campaign for a real device: its GBCS alerts are not answered.
  The run is in wall-clock time and lasts the home's duration (or until interrupted), since the
  scenario cannot know when a real device is done.

This module owns starting bellows and routing the hub's frames to the right radio; it never
decides what the hub or a device does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import zigpy.config
import zigpy.exceptions
import zigpy.types as t
from bellows.zigbee.application import ControllerApplication as BellowsApplication

from emulator.device.emulated import EmulatedDevice
from emulator.device.hub import HUB_DESCRIPTOR, HUB_ENDPOINT, CommsHub
from emulator.device.tunnel import TUNNELING_CLUSTER
from emulator.errors import ScenarioError
from emulator.ota import frames
from emulator.ota.frames import FrameError
from emulator.profiles import OTA_CLUSTER
from emulator.radio.ncp.server import HomeDevice, NcpHome, NcpServer
from emulator.radio.virtual import SmartEnergyHost
from emulator.radio.zigpy_air import ZigpyAir

LOGGER = logging.getLogger(__name__)

PERMIT_S = 254
"""The longest zigpy lets a network stay open at once; the dongle air opens it again."""


class BellowsHub(SmartEnergyHost, BellowsApplication):
    """Stock bellows' coordinator hosting the Comms Hub's Smart Energy endpoint."""


def bellows_config(path: str) -> dict[str, Any]:
    """bellows as ZHA runs it, with the hub's SE endpoint and no database, backups or OTA
    providers."""
    return {
        zigpy.config.CONF_DEVICE: {zigpy.config.CONF_DEVICE_PATH: path},
        zigpy.config.CONF_DATABASE: None,
        zigpy.config.CONF_NWK: {zigpy.config.CONF_NWK_CHANNEL: 15},
        zigpy.config.CONF_OTA: {"enabled": True, "providers": [], "broadcast_enabled": False},
        zigpy.config.CONF_TOPO_SCAN_ENABLED: False,
        zigpy.config.CONF_NWK_BACKUP_ENABLED: False,
        zigpy.config.CONF_WATCHDOG_ENABLED: False,
        zigpy.config.CONF_ADDITIONAL_ENDPOINTS: [HUB_DESCRIPTOR],
        "use_thread": False,
    }


async def start_bellows(path: str) -> BellowsHub:
    """bellows on the NCP at `path`: it forms the network if there is none, then connects again
    so the NCP holds the hub's endpoint (a reset after forming drops it)."""
    config = bellows_config(path)
    try:
        app = await BellowsHub.new(config, auto_form=True)
        await app.shutdown()
        return await BellowsHub.new(config, auto_form=False)
    except (TimeoutError, OSError, zigpy.exceptions.ZigbeeException) as exc:
        raise ScenarioError(f"radio ezsp:{path}: bellows could not start: {exc}") from None


class NcpAir(ZigpyAir):
    """The hub on stock bellows, over loopback TCP to hanemu's emulated NCP and its devices."""

    name = "ncp"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.server: NcpServer | None = None
        self._homed: dict[int, HomeDevice] = {}

    async def _start_app(self) -> Any:
        self.home = NcpHome((), loop=asyncio.get_running_loop(), net=self.net)
        self.server = NcpServer(self.home, port=0)
        port = await self.server.start()
        app = await start_bellows(f"socket://127.0.0.1:{port}")
        await app.permit(PERMIT_S)
        return app

    def attach(self, device: EmulatedDevice, *, model: str) -> None:
        self._homed[device.nwk] = self.home.add(self._node(device, model))

    def join(self, device: EmulatedDevice) -> None:
        self.home.join(self._homed[device.nwk])

    async def stop(self) -> None:
        await super().stop()
        if self.server is not None:
            await self.server.stop()


@dataclass(slots=True)
class RealDevice:
    """What the hub saw of a real device on the dongle's network."""

    ieee: t.EUI64
    nwk: int
    queries: int = 0
    file_version: int | None = None
    """The version its last Query Next Image reported running."""
    manufacturer_id: int | None = None
    image_type: int | None = None
    block_requests: int = 0
    blocks_served: int = 0
    bytes_served: int = 0
    upgrade_ends: list[tuple[str, int]] = field(default_factory=list)
    """(status, file version) of each Upgrade End Request."""

    def to_json(self) -> dict[str, Any]:
        def hex_or_none(value: int | None, width: int) -> str | None:
            return None if value is None else f"0x{value:0{width}X}"

        return {
            "name": f"real-{self.ieee}",
            "real": True,
            "ieee": str(self.ieee),
            "nwk": f"0x{self.nwk:04X}",
            "manufacturer_id": hex_or_none(self.manufacturer_id, 4),
            "image_type": hex_or_none(self.image_type, 4),
            "file_version": hex_or_none(self.file_version, 8),
            "queries": self.queries,
            "block_requests": self.block_requests,
            "blocks_served": self.blocks_served,
            "bytes_served": self.bytes_served,
            "upgrade_end": [
                {"status": status, "file_version": f"0x{version:08X}"}
                for status, version in self.upgrade_ends
            ],
        }


class EzspAir(ZigpyAir):
    """The hybrid home: emulated devices in process, real ones on a dongle, one hub."""

    runs_to_duration = True

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = f"ezsp:{path}"
        self.path = path
        self.dongle: BellowsHub | None = None
        self.real: dict[t.EUI64, RealDevice] = {}
        self.real_frames = 0

    @property
    def frames(self) -> int:
        return self.net.frames + self.real_frames

    async def start(self, hub: CommsHub) -> None:
        await super().start(hub)  # the emulated devices' network
        self.dongle = dongle = await start_bellows(self.path)
        dongle.serve(HUB_ENDPOINT, OTA_CLUSTER, self._ota_from_real)
        dongle.serve(HUB_ENDPOINT, TUNNELING_CLUSTER, self._tunnel_from_real)
        dongle.add_listener(self)
        self._spawn(self._keep_open(dongle))

    async def _keep_open(self, dongle: BellowsHub) -> None:
        while True:
            with contextlib.suppress(zigpy.exceptions.ZigbeeException, asyncio.TimeoutError):
                await dongle.permit(PERMIT_S)
            await asyncio.sleep(PERMIT_S - 4)

    # -- zigpy's listener callbacks on the dongle -------------------------------------------------

    def device_joined(self, device: Any) -> None:
        real = self._real(device.ieee, device.nwk)
        LOGGER.info("real device %s joined the dongle's network as 0x%04X", real.ieee, real.nwk)
        if len(self.hub.server.store):
            self.clock.call_later(2.0, self._notify, real)

    def _real(self, ieee: t.EUI64, nwk: int) -> RealDevice:
        real = self.real.get(ieee)
        if real is None:
            real = self.real[ieee] = RealDevice(ieee, nwk)
        real.nwk = nwk
        if nwk in self.nodes:
            LOGGER.warning("real device %s has the NWK address of an emulated one", ieee)
        return real

    def _sender(self, packet: t.ZigbeePacket) -> RealDevice | None:
        device = self.dongle.adopt(packet) if self.dongle is not None else None
        return None if device is None else self._real(device.ieee, device.nwk)

    def _notify(self, real: RealDevice) -> None:
        for send in self.hub.server.notify(real.nwk):
            self.hub.send(send)

    # -- frames from and to real devices --------------------------------------------------------

    def _ota_from_real(self, packet: t.ZigbeePacket) -> None:
        self.real_frames += 1
        real = self._sender(packet)
        if real is not None:
            _observe(real, packet.data.serialize())
        self._ota_at_hub(packet)

    def _tunnel_from_real(self, packet: t.ZigbeePacket) -> None:
        self.real_frames += 1
        self._tunnel_at_hub(packet)

    def hub_send(self, nwk: int, cluster: int, data: bytes, endpoint: int | None) -> None:
        if nwk in self.nodes or self.dongle is None:
            super().hub_send(nwk, cluster, data, endpoint)
            return
        try:
            device = self.dongle.get_device(nwk=nwk)
        except KeyError:
            return
        real = self._real(device.ieee, nwk)
        if cluster == OTA_CLUSTER:
            _served(real, data)
        self.real_frames += 1
        self._spawn(
            self.dongle.send_zcl(
                device, src_ep=HUB_ENDPOINT, dst_ep=endpoint or 1, cluster=cluster, data=data
            )
        )

    def offer(self, device: EmulatedDevice, image: bytes) -> None:
        super().offer(device, image)  # into the store; the emulated device is told
        for real in self.real.values():
            self._notify(real)

    def real_devices(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in sorted(self.real.values(), key=lambda r: str(r.ieee))]

    async def stop(self) -> None:
        await super().stop()
        if self.dongle is not None:
            await self.dongle.shutdown()


def _observe(real: RealDevice, data: bytes) -> None:
    """Count what a real device asked the OTA server."""
    try:
        frame = frames.decode(data)
    except FrameError:
        return
    cmd = frame.command
    if frame.name == "query_next_image":
        real.queries += 1
        real.file_version = int(cmd.current_file_version)
        real.manufacturer_id, real.image_type = int(cmd.manufacturer_code), int(cmd.image_type)
    elif frame.name in ("image_block", "image_page"):
        real.block_requests += 1
    elif frame.name == "upgrade_end":
        real.upgrade_ends.append((cmd.status.name, int(cmd.file_version)))


def _served(real: RealDevice, data: bytes) -> None:
    """Count the image blocks the OTA server sent a real device."""
    try:
        frame = frames.decode(data)
    except FrameError:
        return
    if frame.name == "image_block_response" and getattr(frame.command, "image_data", None):
        real.blocks_served += 1
        real.bytes_served += len(frame.command.image_data)
