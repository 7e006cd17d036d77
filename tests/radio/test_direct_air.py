"""The direct air: a real Comms Hub and real devices exchange ZCL bytes through seeded links.
Frames land only after the link's latency (never inline), the scenario's faults touch OTA frames
and never the GBCS tunnel, every frame that reaches the air is counted, and server discovery
answers with the one hub. `make_air` refuses what the direct air cannot do."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from wire import device_of, plain_device

from emulator.clock import VirtualClock, run_stepped
from emulator.device.hub import CommsHub
from emulator.errors import ScenarioError
from emulator.ota import client as oc
from emulator.ota.frames import Send
from emulator.ota.image import build_image
from emulator.ota.link import LinkPolicy
from emulator.ota.server import ImageStore, OtaServer
from emulator.profiles import OTA_CLUSTER
from emulator.radio.air import make_air
from emulator.radio.direct import DISCOVERY_LATENCY_S, HUB_ADDRESS, HUB_IEEE, DirectAir

GBCS = b"\xdd not really GBCS, carried all the same"


class Net:
    """A direct air, its hub (whose sends are recorded on their way to the air) and devices."""

    def __init__(self, faults: LinkPolicy) -> None:
        self.clock = VirtualClock()
        self.air = DirectAir(clock=self.clock, rng=random.Random(7), faults=faults)
        self.hub_sent: list[tuple[float, int, int]] = []
        self.at_head_end: list[tuple[float, int, bytes]] = []

        def send(nwk: int, cluster: int, data: bytes, endpoint: int | None) -> None:
            self.hub_sent.append((self.clock.now, nwk, cluster))
            self.air.hub_send(nwk, cluster, data, endpoint)

        self.hub = CommsHub(OtaServer(ImageStore()), self.clock, send)
        self.hub.on_tunnel = lambda nwk, data: self.at_head_end.append((self.clock.now, nwk, data))
        run_stepped(self.air.start(self.hub))

    def attach(self, device):
        self.air.attach(device, model="test device")
        return device


def still(**faults) -> LinkPolicy:
    """A link with no jitter, so every delay is exact."""
    return LinkPolicy(jitter_s=0.0, **faults)


def test_nothing_is_delivered_inline_even_with_no_latency():
    net = Net(still(latency_s=0.0))
    device = net.attach(device_of(net.clock, "ihd-opt1"))
    device.power_on()

    net.hub.send_tunnel(device.nwk, GBCS)
    assert device.gbcs_received == []
    device.port.send_tunnel(device.tunnel.frame(GBCS))
    assert net.at_head_end == []

    net.clock.run_until(0.0)  # the channel's time is all a frame takes, and it is not nothing
    assert device.gbcs_received == [] and net.at_head_end == []
    net.clock.run_until(1.0)
    assert len(device.gbcs_received) == 1
    ((t, nwk, data),) = net.at_head_end
    assert (nwk, data) == (device.nwk, GBCS) and 0.0 < t < 0.1


def test_ota_frames_reach_the_hub_and_the_device_after_the_link_latency():
    """The client queries at 1.1 s (start delay 1 s, two discovery answers of 50 ms); its query
    reaches the hub 0.2 s later (and its time on the channel: a few milliseconds), the hub
    answers at once, and the answer lands 0.2 s (and a few milliseconds) after."""
    net = Net(still(latency_s=0.2))
    offer = build_image(b"new", manufacturer_id=0x1234, image_type=0x0101, file_version=2)
    net.hub.server.store.add(offer)
    device = net.attach(plain_device(net.clock))
    device.power_on()
    net.clock.run_until(60.0)

    query_sent = 1.0 + 2 * DISCOVERY_LATENCY_S
    first_at_hub, nwk, cluster = net.hub_sent[0]
    assert (nwk, cluster) == (device.nwk, OTA_CLUSTER)
    assert query_sent + 0.2 < first_at_hub < query_sent + 0.2 + 0.02
    download = next(e for e in device.events if e.get("to") == "download")
    assert query_sent + 0.4 < download["t"] < query_sent + 0.4 + 0.04
    assert device.activated


def test_discovery_answers_with_the_hub():
    net = Net(still())
    device = net.attach(plain_device(net.clock))
    device.power_on()
    net.clock.run_until(1.0)
    assert device.client.state is oc.State.DISCOVER_SERVER
    net.clock.run_until(1.0 + DISCOVERY_LATENCY_S)
    assert device.client.state is oc.State.GET_SERVER_EUI
    assert device.client.server_address == HUB_ADDRESS
    net.clock.run_until(1.0 + 2 * DISCOVERY_LATENCY_S)
    assert device.client.upgrade_server_id == HUB_IEEE
    assert device.client.state is oc.State.QUERY_NEXT_IMAGE


def test_faults_drop_ota_frames_and_never_the_tunnel():
    net = Net(still(drop=1.0, corrupt=1.0))
    device = net.attach(device_of(net.clock, "ihd-opt1"))
    device.power_on()
    net.clock.run_until(120.0)
    assert net.hub_sent == []  # no query ever reached the hub
    assert device.client_outcome is None
    assert net.air.frames == 0  # dropped frames never reached the air

    net.hub.send_tunnel(device.nwk, GBCS)
    device.port.send_tunnel(device.tunnel.frame(GBCS))
    net.clock.run_until(121.0)
    assert [r["verdict"] for r in device.gbcs_received] == ["malformed"]  # it arrived
    assert [data for _t, _nwk, data in net.at_head_end] == [GBCS]  # intact
    assert net.air.frames == 2


def test_every_copy_on_the_air_is_counted():
    net = Net(still(duplicate=1.0))
    device = net.attach(device_of(net.clock, "ihd-opt1"))
    device.power_on()
    (notify,) = net.hub.server.notify(device.nwk)
    net.hub.send(notify)
    assert net.air.frames == 2  # the notify and its duplicate
    device.port.send_ota(Send(b"\x01\x00\x00", HUB_ADDRESS))
    assert net.air.frames == 4
    net.hub.send_tunnel(device.nwk, GBCS)  # the tunnel has no faults: one copy
    assert net.air.frames == 5


def test_a_frame_to_a_device_not_on_the_air_goes_nowhere():
    net = Net(still())
    device = plain_device(net.clock)  # never attached
    net.hub.send_tunnel(device.nwk, GBCS)
    net.clock.run_until(1.0)
    assert net.air.frames == 0


def test_nothing_is_delivered_after_stop():
    net = Net(still(latency_s=0.2))
    device = net.attach(device_of(net.clock, "ihd-opt1"))
    device.power_on()
    net.hub.send_tunnel(device.nwk, GBCS)
    run_stepped(net.air.stop())
    net.clock.run_until(1.0)
    assert device.gbcs_received == []


# -- make_air --------------------------------------------------------------------------------------


def air(name: str, **options):
    return make_air(
        name, clock=VirtualClock(), rng=random.Random(0), faults=LinkPolicy(), **options
    )


def test_make_air_gives_the_direct_air():
    made = air("direct")
    assert isinstance(made, DirectAir) and made.name == "direct"


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("direct", {"pcap": Path("out.pcap")}, "a pcap capture needs the zigpy radio"),
        ("direct", {"zigpy_server": True}, "zigpy's OTA server runs on the zigpy radio only"),
        ("fm", {}, "unknown radio 'fm': must be one of zigpy, direct, ncp, ezsp:"),
        ("ezsp:socket://127.0.0.1", {}, "ezsp:socket://HOST:PORT \\(with its port\\)"),
        ("ezsp:/dev/no-such-dongle", {}, "must name a serial device that exists"),
    ],
)
def test_make_air_refuses_what_the_air_cannot_do(name, options, message):
    with pytest.raises(ScenarioError, match=message):
        air(name, **options)
