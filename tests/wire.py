"""The smallest air for unit tests of the device stack: a real `CommsHub` (with a real
`OtaServer`) and real `EmulatedDevice`s joined by one fixed latency, every frame recorded.

It is not one of hanemu's airs (`emulator/radio/`): it exists so a test can see each frame, when
it left, which way it went and what it carried, which the real airs keep to themselves. Its
`deliver` switch lets a test cut the hub's frames off before they reach a device (a head-end
command that never gets a response).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from zigpy.zcl import foundation

from emulator.clock import Clock
from emulator.device.emulated import EmulatedDevice, PowerCut
from emulator.device.flash import MemoryFlash
from emulator.device.gbdevice import activation_config, client_policy, device_verifier
from emulator.device.hub import CommsHub
from emulator.device.tunnel import TUNNELING_CLUSTER, parse_transfer_data
from emulator.ota.frames import Send
from emulator.ota.image import build_image
from emulator.ota.policy import ClientPolicy, ServerPolicy
from emulator.ota.server import ImageStore, OtaServer
from emulator.profiles import OTA_CLUSTER, Route, load_profile
from emulator.scenario import plain_identity
from emulator.testpki import DEFAULT_SEED

LATENCY_S = 0.01
HUB_ADDRESS = 0x0000
HUB_IEEE = 0x000D6F0000198B36
MFG = 0x1234
TYPE = 0x0101
QUICK = ClientPolicy(start_delay_min_s=1, start_delay_max_s=1, max_data_size=40)
"""A plain client that starts one second after power-up and asks for 40-byte blocks."""


@dataclass(frozen=True, slots=True)
class Frame:
    t: float
    """When it left its sender."""
    nwk: int
    """The device's address (sender or receiver)."""
    cluster: int
    data: bytes
    up: bool
    """From the device to the hub."""

    @property
    def tunnel(self) -> tuple[int, bytes]:
        """(tunnel id, data) of an SE Tunneling TransferData frame."""
        _hdr, payload = foundation.ZCLHeader.deserialize(self.data)
        parsed = parse_transfer_data(payload)
        assert parsed is not None
        return parsed


class Wire:
    """One hub and its devices; `frames` is everything sent, in order."""

    def __init__(
        self,
        clock: Clock,
        *,
        server_policy: ServerPolicy | None = None,
        latency_s: float = LATENCY_S,
    ) -> None:
        self.clock = clock
        self.latency_s = latency_s
        self.deliver = True
        """False: frames from the hub are recorded and never arrive."""
        self.frames: list[Frame] = []
        self.ports: dict[int, WirePort] = {}
        self.hub = CommsHub(OtaServer(ImageStore(), server_policy), clock, self.hub_send)

    def attach(self, device: EmulatedDevice) -> WirePort:
        port = WirePort(self, device)
        self.ports[device.nwk] = port
        device.port = port
        return port

    def hub_send(self, nwk: int, cluster: int, data: bytes, endpoint: int | None) -> None:
        self.frames.append(Frame(self.clock.now, nwk, cluster, bytes(data), up=False))
        port = self.ports.get(nwk)
        if port is None or not self.deliver:
            return
        device = port.device
        if cluster == OTA_CLUSTER:
            self.clock.call_later(self.latency_s, device.ota_frame, data, HUB_ADDRESS)
        elif cluster == TUNNELING_CLUSTER:
            self.clock.call_later(self.latency_s, device.tunnel_frame, data)

    def down(self, cluster: int) -> list[Frame]:
        """Frames the hub sent on `cluster`."""
        return [f for f in self.frames if not f.up and f.cluster == cluster]

    def up(self, cluster: int) -> list[Frame]:
        """Frames devices sent on `cluster`."""
        return [f for f in self.frames if f.up and f.cluster == cluster]


class WirePort:
    """One device's `Port` on the wire: what it sends is recorded, then lands at the hub."""

    def __init__(self, wire: Wire, device: EmulatedDevice) -> None:
        self.wire = wire
        self.device = device
        self.power: list[tuple[float, bool]] = []
        """(time, powered) of every power change the device reported."""
        self.discoveries: list[float] = []

    def _up(self, cluster: int, data: bytes, delay: float = 0.0) -> None:
        wire, clock = self.wire, self.wire.clock
        nwk = self.device.nwk
        wire.frames.append(Frame(clock.now + delay, nwk, cluster, bytes(data), up=True))
        hub = wire.hub
        receive = hub.ota_received if cluster == OTA_CLUSTER else hub.tunnel_received
        clock.call_later(delay + wire.latency_s, receive, nwk, data)

    def send_ota(self, send: Send) -> None:
        self._up(OTA_CLUSTER, send.data, send.delay)

    def send_tunnel(self, frame: bytes) -> None:
        self._up(TUNNELING_CLUSTER, frame)

    def discover_server(self) -> None:
        self.discoveries.append(self.wire.clock.now)
        self.wire.clock.call_later(self.wire.latency_s, self.device.server_found, HUB_ADDRESS)

    def resolve_server_eui(self, address: int) -> None:
        self.wire.clock.call_later(self.wire.latency_s, self.device.server_eui, HUB_IEEE)

    def power_changed(self, powered: bool) -> None:
        self.power.append((self.wire.clock.now, powered))


def image(version: int = 2, size: int = 400) -> bytes:
    """A plain OTA file of `size` payload bytes for the plain device's identity."""
    payload = random.Random(version).randbytes(size)
    return build_image(payload, manufacturer_id=MFG, image_type=TYPE, file_version=version)


def newer_image(zigbee, *, size: int, seed: int, header_string: str = "") -> bytes:
    """An OTA file one version above a device's (`zigbee`: its profile's `ZigbeeIdentity`), with
    `size` seeded random payload bytes: what an upgrade test serves it."""
    return build_image(
        random.Random(seed).randbytes(size),
        manufacturer_id=zigbee.manufacturer_id,
        image_type=zigbee.image_type,
        file_version=zigbee.firmware_version + 1,
        header_string=header_string,
    )


def plain_device(
    clock: Clock,
    *,
    version: int = 1,
    nwk: int = 0x1234,
    policy: ClientPolicy = QUICK,
    power_cuts: tuple[PowerCut, ...] = (),
    verifier=None,
    flash: MemoryFlash | None = None,
    seed: int = 0,
) -> EmulatedDevice:
    """A plain Zigbee OTA client (no GB side) of `image()`'s identity, running `version`
    (or what `flash` holds)."""
    return EmulatedDevice(
        name="plain",
        clock=clock,
        nwk=nwk,
        ieee=0x00124B0001020304,
        zigbee=plain_identity(MFG, TYPE, version),
        running_image=build_image(
            b"running", manufacturer_id=MFG, image_type=TYPE, file_version=version
        ),
        policy=policy,
        rng=random.Random(seed),
        verifier=verifier,
        power_cuts=power_cuts,
        flash=flash,
    )


def device_of(
    clock: Clock,
    profile_name: str,
    *,
    route: Route = Route.DCC,
    nwk: int = 0x2345,
    ieee: int = 0x00DB1234567890B1,
    flash: MemoryFlash | None = None,
    seed: int = 0,
    pki_seed: int = DEFAULT_SEED,
) -> EmulatedDevice:
    """A device of a shipped profile built as a scenario builds it: on the DCC route it is a GB
    device with its own activation config (keys from the test PKI under `pki_seed`); on
    another route it only takes firmware installed by that route. `flash` defaults to one
    holding a small running image of the profile's version."""
    profile = load_profile(profile_name)
    config = activation_config(profile, ieee, seed=pki_seed)
    z = profile.zigbee
    dcc = route == Route.DCC
    policy = client_policy(profile) if dcc else profile.ota
    return EmulatedDevice(
        name=profile_name,
        clock=clock,
        nwk=nwk,
        ieee=ieee,
        zigbee=z,
        running_image=build_image(
            b"running",
            manufacturer_id=z.manufacturer_id,
            image_type=z.image_type,
            file_version=z.firmware_version,
        ),
        policy=policy.replace(start_delay_min_s=1, start_delay_max_s=1),
        rng=random.Random(seed),
        verifier=device_verifier(profile, config),
        activation=config if dcc else None,
        flash=flash,
    )
