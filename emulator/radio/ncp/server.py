"""The emulated NCP on a TCP port: one ASH session per connection, EZSP behind it, a home behind.

`NcpHome` puts a home's emulated devices on the in-process air (`radio.virtual.VirtualNetwork`,
each device a `ZigpyNode`, as on the zigpy air) with an `EzspNcp` in the place zigpy's virtual
coordinator takes there: the air hands what lands at the coordinator to the NCP
(`packet_received`), and the NCP hands the host's frames to the air (`from_coordinator`). The
home's Comms Hub is the host itself (bellows, herdsman): campaigns in the home file are not
run. Devices join when the host opens the network (`permitJoining`), one after another
`JOIN_SPACING_S` apart: the host hears `trustCenterJoinHandler`, then the device powers on and
announces itself (Device_annce); a device joins again after the host left the network.

`NcpServer` is the asyncio TCP server: each connection gets its own `AshNcp` session (the NCP
boots on connect and says so with RSTACK(RESET_POWER_ON)), attached to the one NCP; a new
connection takes the NCP over from the previous one, which is closed, as a dongle has one host.

This module owns that glue. It never interprets EZSP (`ezsp.py`) or ASH (`ash.py`), never
decides what a device does, and reads time only from the running loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass

import zigpy.types as zt

from emulator.clock import RealClock
from emulator.device.emulated import EmulatedDevice
from emulator.radio.ncp.ash import AshNcp
from emulator.radio.ncp.ezsp import DEFAULT_VERSION, EzspNcp
from emulator.radio.virtual import VirtualNetwork
from emulator.radio.zigpy_node import ZigpyNode
from emulator.scenario import DeviceSpec, build_device

LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = 6638
JOIN_SPACING_S = 0.5
"""Between one device joining and the next once the host opens the network."""


@dataclass(slots=True)
class HomeDevice:
    """One emulated device behind the NCP."""

    spec: DeviceSpec | None
    """None for a device the scenario engine built (`radio.ezsp_air.NcpAir`)."""
    device: EmulatedDevice
    node: ZigpyNode
    joined: bool = False
    announced_after: float | None = None
    """The activation after which the device last announced itself."""


class NcpHome:
    """A home's devices on an air whose coordinator is an emulated EZSP NCP."""

    def __init__(
        self,
        specs: tuple[DeviceSpec, ...] | list[DeviceSpec],
        *,
        version: int = DEFAULT_VERSION,
        seed: int = 0,
        loop: asyncio.AbstractEventLoop | None = None,
        net: VirtualNetwork | None = None,
    ) -> None:
        loop = loop or asyncio.get_running_loop()
        rng = random.Random(seed)
        self.clock = RealClock(loop)
        air_rng = random.Random(rng.getrandbits(64))
        self.net = net or VirtualNetwork(rng=air_rng)
        """The air (default: a fault-free one; the scenario engine's NCP air brings its own)."""
        self.ncp = EzspNcp(version=version, transmit=self.net.from_coordinator)
        self.net.app = self.ncp  # type: ignore[assignment]  # the air's coordinator
        self.ncp.on_permit = self._permit
        self.ncp.on_left = self._left
        self.devices: list[HomeDevice] = []
        self._loop = loop
        self._joining: list[asyncio.TimerHandle] = []
        used = {0x0000}
        for spec in specs:
            nwk = 0
            while nwk in used:
                nwk = rng.randrange(0x0001, 0xFFF8)
            used.add(nwk)
            ieee = rng.getrandbits(64) if spec.ieee is None else spec.ieee
            device = build_device(
                spec, clock=self.clock, nwk=nwk, ieee=ieee, rng=random.Random(rng.getrandbits(64))
            )
            model = "plain OTA client" if spec.profile is None else spec.profile.name
            kind = "device" if spec.profile is None else str(spec.profile.device_type)
            node = ZigpyNode(
                device,
                transmit=self.net.to_coordinator,
                clock=self.clock,
                rng=random.Random(rng.getrandbits(64)),
                model=f"{kind} {model}",
            )
            d = self.add(node, spec)
            device.on_change = lambda d=d: self._changed(d)

    def add(self, node: ZigpyNode, spec: DeviceSpec | None = None) -> HomeDevice:
        """Put a device (its node on this home's air) behind the NCP; it joins when the host
        permits joining, or when `join` is called."""
        device = node.device
        device.port = node
        self.net.attach(node, security=device.zigbee.security, hops=device.hops)
        self.ncp.remember(node.ieee, device.nwk)
        d = HomeDevice(spec, device, node)
        self.devices.append(d)
        return d

    def device(self, name: str) -> HomeDevice:
        return next(d for d in self.devices if d.device.name == name)

    def _permit(self, duration: int) -> None:
        for handle in self._joining:
            handle.cancel()
        self._joining = []
        if duration == 0:
            return
        waiting = [d for d in self.devices if not d.joined]
        for i, d in enumerate(waiting):
            delay = JOIN_SPACING_S * (i + 1)
            self._joining.append(self._loop.call_later(delay, self.join, d))

    def join(self, d: HomeDevice) -> None:
        """The device joins now, if the network is open: the host hears
        `trustCenterJoinHandler`, then the device powers on and announces itself."""
        if d.joined or not self.ncp.permitting:
            return
        d.joined = True
        LOGGER.info("%s joins as 0x%04X", d.device.name, d.device.nwk)
        self.ncp.join(d.device.nwk, zt.EUI64(d.node.ieee))
        d.node.announce()
        if not d.device.powered:
            d.device.power_on()

    def _changed(self, d: HomeDevice) -> None:
        """Back on the network after rebooting into new firmware, a device announces itself
        (Device_annce), as a Zigbee node does when it rejoins; herdsman waits for it before its
        OTA update resolves (herdsman-ember.md §0 rule 9)."""
        activated = d.device.stats.activated_at
        if activated is None or activated == d.announced_after or not d.joined:
            return
        if d.device.powered and self.clock.now > activated:  # powered again, not still going down
            d.announced_after = activated
            d.node.announce()

    def _left(self) -> None:
        for d in self.devices:
            d.joined = False


class _Session(AshNcp):
    """One host connection: ASH on the socket, EZSP frames to and from the NCP."""

    def __init__(self, server: NcpServer) -> None:
        super().__init__(server.ncp.frame_received, on_reset=server.ncp.reset)
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._server._attach(self, transport)
        self.announce_power_on()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._server._detach(self)


class NcpServer:
    """The emulated NCP listening on a TCP port (loopback by default)."""

    def __init__(self, home: NcpHome, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        self.home = home
        self.ncp = home.ncp
        self.host = host
        self.port = port
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._session: _Session | None = None
        self._transport: asyncio.BaseTransport | None = None

    async def start(self) -> int:
        """Listen; the port (the one the system chose when asked for port 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Session(self), self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def _attach(self, session: _Session, transport: asyncio.BaseTransport) -> None:
        if self._transport is not None:
            LOGGER.info("a new host connection takes over the NCP")
            self._transport.close()
        self.connections += 1
        self._session, self._transport = session, transport
        self.ncp.attach(session.send)

    def _detach(self, session: _Session) -> None:
        if self._session is session:
            self._session = self._transport = None
            self.ncp.detach()

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
