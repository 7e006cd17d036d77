"""The air interface: how a scenario's devices and its Comms Hub reach each other.

An air carries frames between the hub (`emulator.device.hub.CommsHub`) and the emulated devices
(`emulator.device.emulated.EmulatedDevice`), the way python-can puts a virtual bus and real buses
behind one `Bus`: a scenario names its air and nothing above `radio/` changes when it does.

* `direct` (`radio/direct.py`): ZCL bytes through seeded links, no Zigbee stack: the fast path
  for `ota simulate` and fleets.
* `zigpy` (`radio/zigpy_air.py`): a real zigpy coordinator on hanemu's in-process radio; devices
  join, are interviewed and discover the hub with ZDO, and a pcap can be written.
* `ncp` (`radio/ezsp_air.py`): the same hub on stock bellows, over loopback TCP to hanemu's
  emulated EZSP NCP with the devices behind it; virtual time, as the zigpy air.
* `ezsp:PATH` (`radio/ezsp_air.py`): the hybrid home: the hub on bellows with a real dongle
  (`ezsp:/dev/ttyUSB0`, `ezsp:socket://host:port`) for real devices, the emulated devices on the
  in-process network beside it; wall-clock time, for the home's whole duration.

Every air applies one frame-size rule (`emulator.framesize.refusal`): a frame whose 802.15.4
PSDU would be over 127 octets is not delivered, and `refuse` records it as the device's
"oversize-frame" event with the reason, which the device's report counts.

This module owns the interface and the choice of air; it never decides what a device or the hub
does and never reads wall time.
"""

from __future__ import annotations

import os
import random
import urllib.parse
from collections.abc import Callable
from typing import Any, Protocol

from emulator import framesize
from emulator.clock import Clock
from emulator.device.emulated import EmulatedDevice
from emulator.device.hub import CommsHub
from emulator.errors import ScenarioError
from emulator.ota.link import LinkPolicy

AIRS = ("direct", "zigpy", "ncp")
"""The airs named by a word; `ezsp:PATH` names a dongle."""
EZSP_PREFIX = "ezsp:"
RADIO_ALIASES = {"virtual": "zigpy"}
"""Older names for an air, accepted and normalised."""
RADIO_FORMS = "zigpy, direct, ncp, ezsp:/dev/SERIAL or ezsp:socket://HOST:PORT"


def radio_problem(name: str) -> str | None:
    """Why `name` names no air ("must ..."), or None. An `ezsp:` path must be a serial device
    that exists or a `socket://host:port` URL with a port."""
    name = RADIO_ALIASES.get(name, name)
    if name in AIRS:
        return None
    if not name.startswith(EZSP_PREFIX):
        return f"must be one of {RADIO_FORMS}"
    path = name[len(EZSP_PREFIX) :]
    if "://" in path:
        url = urllib.parse.urlsplit(path)
        try:
            port = url.port
        except ValueError:
            port = None
        if url.scheme != "socket" or not url.hostname or not port:
            return "must name a network dongle as ezsp:socket://HOST:PORT (with its port)"
        return None
    if not path or not os.path.exists(path):
        return "must name a serial device that exists (ezsp:/dev/ttyUSB0) or ezsp:socket://..."
    return None


def normal_radio(name: str) -> str:
    """The air's name as reports give it (`virtual` is `zigpy`)."""
    return RADIO_ALIASES.get(name, name)


def wall_clock(name: str) -> bool:
    """A dongle runs in wall-clock time: the air cannot be paused."""
    return name.startswith(EZSP_PREFIX)


class Air(Protocol):
    """One scenario's network: the hub and the devices attached to it."""

    name: str
    frames: int
    """Frames that reached the air so far."""
    runs_to_duration: bool
    """Devices the scenario does not know may come and go (a dongle's real devices), so the run
    lasts its whole duration instead of ending when every emulated device has settled."""

    def real_devices(self) -> list[dict[str, Any]] | None:
        """What the hub saw of each real device, for the report; None on an air with none."""

    async def start(self, hub: CommsHub) -> None:
        """Bring the network up with the hub on it."""

    def hub_send(self, nwk: int, cluster: int, data: bytes, endpoint: int | None) -> None:
        """Carry a hub frame to a device."""

    def node_send(self, src: int, nwk: int, cluster: int, data: bytes) -> None:
        """Carry a frame from another HAN node (the ESME, a rogue node: NWK address `src`,
        not the hub) to the device at `nwk`."""

    def attach(self, device: EmulatedDevice, *, model: str) -> None:
        """Put a device on the air (it gets its `port`); it has no power yet."""

    def join(self, device: EmulatedDevice) -> None:
        """Power the device on and have it join the network."""

    def offer(self, device: EmulatedDevice, image: bytes) -> None:
        """The DCC route: the hub's OTA server gets the image and tells the device."""

    async def stop(self) -> None:
        """Tear the network down; nothing is delivered after this."""


def refuse(device: EmulatedDevice, reason: str, *, cluster: int, sender: str) -> None:
    """Record that the air refused a frame from `sender` ("device", "hub" or another "node")
    to or from `device` because it does not fit one 802.15.4 frame (`reason` says how)."""
    device.events.append(
        {
            "t": round(device.clock.now, 6),
            "event": framesize.OVERSIZE_EVENT,
            "from": sender,
            "cluster": f"0x{cluster:04X}",
            "reason": reason,
        }
    )


def make_air(
    name: str,
    *,
    clock: Clock,
    rng: random.Random,
    faults: LinkPolicy,
    pcap: Callable[[Any, float], None] | None = None,
    zigpy_server: bool = False,
) -> Air:
    """The air called `name`; `faults` apply to OTA frames, `pcap` (a `radio.pcap.PcapWriter`)
    records every frame, `zigpy_server` has zigpy's own OTA code serve the devices instead of
    the hub's server."""
    if name == "direct":
        from emulator.radio.direct import DirectAir

        if pcap is not None:
            raise ScenarioError(
                "a pcap capture needs the zigpy radio (the direct air has no Zigbee frames)"
            )
        if zigpy_server:
            raise ScenarioError("zigpy's OTA server runs on the zigpy radio only")
        return DirectAir(clock=clock, rng=rng, faults=faults)
    if name == "zigpy":
        from emulator.radio.zigpy_air import ZigpyAir

        return ZigpyAir(clock=clock, rng=rng, faults=faults, pcap=pcap, zigpy_server=zigpy_server)
    problem = radio_problem(name)
    if problem is not None:
        raise ScenarioError(f"unknown radio {name!r}: {problem}")
    from emulator.radio.ezsp_air import EzspAir, NcpAir

    if name == "ncp":
        return NcpAir(clock=clock, rng=rng, faults=faults, pcap=pcap, zigpy_server=zigpy_server)
    if zigpy_server:
        raise ScenarioError("zigpy's OTA server does not serve a dongle's real devices")
    path = name[len(EZSP_PREFIX) :]
    return EzspAir(path, clock=clock, rng=rng, faults=faults, pcap=pcap)
