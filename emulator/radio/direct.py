"""The direct air: devices and the Comms Hub exchange ZCL bytes through seeded links, no zigpy.

Every frame takes its turn on the home's one 802.15.4 channel (`emulator.radio.channel`: CSMA-CA,
its airtime octet by octet, the MAC acknowledgement, each of the device's hops), so devices
downloading at once share it. Each device also gets its own pair of OTA links
(`emulator.ota.link.Link`: the scenario's drop, duplicate, reorder and corruption faults, and any
extra latency) and a fault-free, in-order tunnel link for GBCS. Server discovery and EUI
resolution answer after a fixed latency with the one hub. Nothing is delivered inline: every
frame lands later, through the clock, so a reply can never re-enter its sender. A frame that
would not fit one 802.15.4 frame for the device's security (`emulator.framesize.refusal`, as on
the zigpy air) is not sent and is recorded (`air.refuse`). This is the fast path `ota simulate`
and fleets run on.

This module owns moving bytes between the hub and devices; it never decides what either does and
never reads wall time.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from emulator import framesize
from emulator.clock import Clock
from emulator.device.emulated import EmulatedDevice
from emulator.device.hub import CommsHub
from emulator.device.messaging import MESSAGING_CLUSTER
from emulator.device.tunnel import TUNNELING_CLUSTER
from emulator.ota.frames import Send
from emulator.ota.link import Link, LinkPolicy
from emulator.profiles import OTA_CLUSTER, SMART_ENERGY_PROFILE
from emulator.radio.air import refuse
from emulator.radio.channel import Channel

HUB_ADDRESS = 0x0000
HUB_IEEE = 0x000D6F0000198B36
DISCOVERY_LATENCY_S = 0.05


class _DirectPort:
    """One device's links to the hub."""

    def __init__(self, air: DirectAir, device: EmulatedDevice, rng: random.Random) -> None:
        self.air = air
        self.device = device
        policy = air.faults
        self.up = Link(policy, random.Random(rng.getrandbits(64)))
        self.down = Link(policy, random.Random(rng.getrandbits(64)))
        # The tunnel is fault-free and in order: its GBCS messages (a CS09, then the 8F43
        # behind it) arrive as their sender sent them.
        quiet = LinkPolicy(latency_s=policy.latency_s, jitter_s=0.0)
        self._security: dict[int, framesize.Security] = {}
        """How each cluster's frames to and from the device are secured (asked once)."""
        self.tunnel_up = Link(quiet, random.Random(rng.getrandbits(64)))
        self.tunnel_down = Link(quiet, random.Random(rng.getrandbits(64)))
        self._room: dict[int, float] = {}
        """The longest payload the frame-size rule lets through, by cluster (asked once)."""

    def _fits(self, cluster: int, data: bytes, sender: str) -> bool:
        """Whether the frame may be sent (every frame here is a unicast Smart Energy frame)."""
        room = self._room.get(cluster)
        if room is None:
            room = self._room[cluster] = framesize.room(
                self.device.zigbee.security,
                profile_id=SMART_ENERGY_PROFILE,
                cluster_id=cluster,
                unicast=True,
            )
        if len(data) <= room:
            return True
        reason = framesize.refusal(
            data,
            self.device.zigbee.security,
            profile_id=SMART_ENERGY_PROFILE,
            cluster_id=cluster,
            unicast=True,
        )
        if reason is None:
            return True
        refuse(self.device, reason, cluster=cluster, sender=sender)
        return False

    def _carry(
        self,
        link: Link,
        data: bytes,
        deliver: Callable[[bytes], None],
        delay: float = 0.0,
        cluster: int = OTA_CLUSTER,
    ) -> None:
        """The frame takes its turn on the home's channel (`air.channel`) once its sender hands
        it over, `delay` from now; each copy the link's faults let through lands at `deliver`
        when it has crossed the air (never inline)."""
        air = self.air
        if delay > 0.0:
            air.clock.call_later(delay, self._carry, link, data, deliver, 0.0, cluster)
            return
        psdu, frames = self._frames(cluster, len(data))
        now = air.clock.now
        crossed = air.channel.send(now, psdu, frames=frames, hops=self.device.hops) - now
        for extra, frame in link.transmit(data):
            air.frames += 1
            air.clock.call_later(crossed + extra, deliver, frame)

    def _frames(self, cluster: int, length: int) -> tuple[int, int]:
        """(PSDU octets of each frame, frames) for an APS payload of `length` octets."""
        security = self._security.get(cluster)
        if security is None:
            security = self._security[cluster] = framesize.frame_security(
                self.device.zigbee.security,
                profile_id=SMART_ENERGY_PROFILE,
                cluster_id=cluster,
                unicast=True,
            )
        return framesize.frames(
            length, security, fragmented=cluster in framesize.FRAGMENTED_CLUSTERS
        )

    # -- Port -----------------------------------------------------------------------------------

    def send_ota(self, send: Send) -> None:
        if self._fits(OTA_CLUSTER, send.data, "device"):
            self._carry(self.up, send.data, self._at_hub, send.delay)

    # Every landing checks the air is still up: nothing is delivered after `stop`.

    def _at_hub(self, data: bytes) -> None:
        if self.air.up:
            self.air.hub.ota_received(self.device.nwk, data)

    def send_tunnel(self, frame: bytes) -> None:
        if self._fits(TUNNELING_CLUSTER, frame, "device"):
            self._carry(self.tunnel_up, frame, self._tunnel_at_hub, 0.0, TUNNELING_CLUSTER)

    def _tunnel_at_hub(self, frame: bytes) -> None:
        if self.air.up:
            self.air.hub.tunnel_received(self.device.nwk, frame)

    def discover_server(self) -> None:
        self.air.clock.call_later(DISCOVERY_LATENCY_S, self.device.server_found, HUB_ADDRESS)

    def resolve_server_eui(self, address: int) -> None:
        self.air.clock.call_later(DISCOVERY_LATENCY_S, self.device.server_eui, HUB_IEEE)

    def power_changed(self, powered: bool) -> None:
        pass

    # -- from the hub ---------------------------------------------------------------------------

    def from_hub(self, cluster: int, data: bytes) -> None:
        if not self._fits(cluster, data, "hub"):
            return
        if cluster == OTA_CLUSTER:
            self._carry(self.down, data, self._ota_at_device)
        elif cluster == TUNNELING_CLUSTER:
            self._carry(self.tunnel_down, data, self._tunnel_at_device, 0.0, cluster)

    def from_node(self, src: int, cluster: int, data: bytes) -> None:
        """Another HAN node's frame (the ESME's, a rogue's), on the fault-free in-order link."""
        if cluster == MESSAGING_CLUSTER and self._fits(cluster, data, "node"):
            self._carry(
                self.tunnel_down, data, lambda d: self._messaging_at_device(d, src), 0.0, cluster
            )

    def _messaging_at_device(self, data: bytes, src: int) -> None:
        if self.air.up:
            self.device.messaging_frame(data, src)

    def _ota_at_device(self, data: bytes) -> None:
        if self.air.up:
            self.device.ota_frame(data, HUB_ADDRESS)

    def _tunnel_at_device(self, data: bytes) -> None:
        if self.air.up:
            self.device.tunnel_frame(data)


class DirectAir:
    """Devices and one hub on seeded links."""

    name = "direct"
    runs_to_duration = False

    def __init__(self, *, clock: Clock, rng: random.Random, faults: LinkPolicy) -> None:
        self.clock = clock
        self.rng = rng
        self.faults = faults
        self.channel = Channel(random.Random(rng.getrandbits(64)))
        """The home's one 802.15.4 channel, shared by the hub and every device."""
        self.frames = 0
        self.hub: CommsHub
        self._ports: dict[int, _DirectPort] = {}
        self.up = True

    async def start(self, hub: CommsHub) -> None:
        self.hub = hub

    def real_devices(self) -> None:
        return None

    def hub_send(self, nwk: int, cluster: int, data: bytes, endpoint: int | None) -> None:
        port = self._ports.get(nwk)
        if port is not None:
            port.from_hub(cluster, data)

    def node_send(self, src: int, nwk: int, cluster: int, data: bytes) -> None:
        port = self._ports.get(nwk)
        if port is not None:
            port.from_node(src, cluster, data)

    def attach(self, device: EmulatedDevice, *, model: str) -> None:
        port = _DirectPort(self, device, random.Random(self.rng.getrandbits(64)))
        self._ports[device.nwk] = port
        device.port = port

    def join(self, device: EmulatedDevice) -> None:
        device.power_on()

    def offer(self, device: EmulatedDevice, image: bytes) -> None:
        self.hub.offer(device.nwk, image)

    async def stop(self) -> None:
        self.up = False
        self._ports.clear()
