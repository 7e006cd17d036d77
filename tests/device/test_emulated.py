"""`EmulatedDevice`: one device on a virtual clock, its frames seen on a recording wire that joins
it to a real Comms Hub. Power, flash, power cuts, installs by other routes, the outcome it keeps
and GBCS that reaches it while it is off."""

from __future__ import annotations

import pytest
from wire import MFG, QUICK, TYPE, Wire, device_of, image, plain_device

from emulator.clock import VirtualClock
from emulator.device.campaign import ActivationPlan, image_hash
from emulator.device.emulated import POWER_CUT_OFF_S, REBOOT_S, PowerCut
from emulator.device.flash import MemoryFlash
from emulator.device.gbdevice import manufacturer_image
from emulator.device.tunnel import (
    GBCS_TUNNEL_ID,
    HUB_INSTRUCTION_ACTIVATE,
    HUB_INSTRUCTION_TUNNEL_ID,
)
from emulator.gbcs.frame import decode_frame
from emulator.ota import client as oc
from emulator.ota.client import OutcomeKind as Outcome
from emulator.ota.image import build_image
from emulator.ota.server import ImageStore
from emulator.profiles import OTA_CLUSTER
from emulator.testpki import DEFAULT_SEED

BLOCK = QUICK.max_data_size  # the hub's server caps blocks at 50: the client's 40 wins


def on_wire(device, *, offer: bytes | None = None):
    """The device on a wire whose hub holds `offer`; returns (wire, port)."""
    wire = Wire(device.clock)
    port = wire.attach(device)
    if offer is not None:
        wire.hub.server.store.add(offer)
    return wire, port


def transitions(device, since: float = 0.0) -> list[tuple[str, str]]:
    return [
        (e["from"], e["to"])
        for e in device.events
        if e["event"] == "transition" and e["t"] >= since
    ]


# -- power -----------------------------------------------------------------------------------


def test_power_on_boots_from_flash_and_resumes_the_download_it_holds():
    """A committed record of 120 bytes of version 2: the client boots knowing it, and after
    finding the server asks for the block at 120 without querying first (spec 2.5)."""
    clock = VirtualClock()
    offer = image(2)
    flash = MemoryFlash(
        build_image(b"running", manufacturer_id=MFG, image_type=TYPE, file_version=1)
    )
    flash.write_slot(0, offer[:120])
    flash.commit_record(oc.DownloadRecord(MFG, TYPE, 2, len(offer), 120))
    device = plain_device(clock, flash=flash)
    wire, port = on_wire(device, offer=offer)

    device.power_on()

    assert device.powered and port.power == [(0.0, True)]
    assert device.client.current_file_version == flash.running_version
    assert (device.client.downloaded_file_version, device.client.file_offset) == (2, 120)
    assert device.client.state is oc.State.DELAY
    assert wire.frames == []  # nothing on the air until the start delay ran out

    clock.run_until(1.5)
    download = next(e for e in device.events if e.get("to") == "download")
    assert download["from"] == "get-server-eui" and download["file_offset"] == 120
    assert ("query-next-image", "download") not in transitions(device)


def test_a_record_that_fails_its_check_boots_as_no_record_and_is_counted():
    clock = VirtualClock()
    device = plain_device(clock)
    device.flash.corrupt_record(b"HSLT torn")
    on_wire(device)
    device.power_on()
    assert device.stats.invalid_records == 1
    assert device.client.file_offset == oc.NO_VERSION


def test_frames_are_ignored_while_off_and_heard_once_powered():
    """An Image Notify cuts a powered client's start delay short (it looks for the server at
    once); the same frame to a device with no power changes nothing."""
    clock = VirtualClock()
    device = plain_device(clock)
    wire, port = on_wire(device)
    (notify,) = wire.hub.server.notify(device.nwk)

    device.ota_frame(notify.data, 0x0000)
    clock.run_until(10.0)
    assert device.client.state is oc.State.OFF
    assert device.events == [] and wire.frames == [] and port.discoveries == []

    device.power_on()
    device.ota_frame(notify.data, 0x0000)
    assert device.client.state is oc.State.DISCOVER_SERVER
    assert port.discoveries == [10.0]  # not 11.0, when the start delay would have run out


# -- power cuts --------------------------------------------------------------------------------


def test_power_cut_at_a_time_cuts_and_reboots_after_its_off_time():
    clock = VirtualClock()
    device = plain_device(clock, power_cuts=(PowerCut(at_time=30.0, off_for_s=7.0),))
    _wire, port = on_wire(device)
    device.power_on()

    clock.run_until(30.0)
    assert not device.powered
    assert device.stats.power_losses == 1
    assert device.stats.committed_at_cut == [0]  # nothing downloaded: no record
    assert device.busy  # rebooting

    clock.run_until(36.99)
    assert not device.powered and device.stats.resumed_from == []
    clock.run_until(37.0)
    assert device.powered and not device.busy
    assert device.stats.resumed_from == [0]
    assert port.power == [(0.0, True), (30.0, False), (37.0, True)]
    assert [e["event"] for e in device.events if e["event"].startswith("power")] == [
        "power-lost",
        "power-restored",
    ]


def test_a_cut_due_while_off_does_nothing():
    clock = VirtualClock()
    device = plain_device(clock, power_cuts=(PowerCut(at_time=5.0),))
    on_wire(device)
    clock.run_until(10.0)
    assert device.stats.power_losses == 0
    assert device.events == []


@pytest.mark.parametrize(
    ("ops", "committed"),
    [
        (4, BLOCK),  # record at 0, block 1 written and committed, block 2 written: cut
        (5, 2 * BLOCK),  # ... and block 2's record committed: cut
    ],
)
def test_power_cut_after_flash_ops_keeps_the_last_committed_record(ops, committed):
    """Writes and commits count together, so an even cut falls between a write and its
    commit: the bytes written ahead of their record are fetched again."""
    clock = VirtualClock()
    device = plain_device(clock, power_cuts=(PowerCut(after_flash_ops=ops, off_for_s=7.0),))
    offer = image(2)
    _wire, port = on_wire(device, offer=offer)
    device.power_on()
    clock.run_until(60.0)

    assert device.stats.power_losses == 1
    assert device.stats.committed_at_cut == [committed]
    assert device.stats.resumed_from[0] == committed
    cut_at = port.power[1][0]
    assert port.power[1:3] == [(cut_at, False), (cut_at + 7.0, True)]
    assert device.flash.running_version == 2  # the download went on and was activated


def test_power_cut_at_a_fraction_falls_after_that_blocks_write_before_its_commit():
    clock = VirtualClock()
    offer = image(2)
    device = plain_device(clock, power_cuts=(PowerCut(at_fraction=0.5),))
    _wire, port = on_wire(device, offer=offer)
    device.power_on()
    clock.run_until(60.0)

    half = len(offer) / 2
    crossing = next(end for end in range(BLOCK, len(offer) + BLOCK, BLOCK) if end >= half)
    assert device.stats.power_losses == 1
    assert device.stats.committed_at_cut == [crossing - BLOCK]
    assert device.stats.resumed_from[0] == crossing - BLOCK
    assert port.power[2][0] - port.power[1][0] == POWER_CUT_OFF_S
    assert device.stats.bytes == len(offer) + BLOCK  # the block written ahead, written again


def test_resumed_from_has_one_entry_per_power_loss():
    clock = VirtualClock()
    device = plain_device(clock, power_cuts=(PowerCut(after_flash_ops=4, off_for_s=7.0),))
    on_wire(device, offer=image(2))
    device.power_on()
    clock.run_until(60.0)
    assert device.flash.running_version == 2 and device.powered  # activated, rebooted
    assert len(device.stats.resumed_from) == device.stats.power_losses == 1


# -- other routes --------------------------------------------------------------------------------


def test_install_while_off_is_kept_and_done_at_the_next_boot():
    clock = VirtualClock()
    device = plain_device(clock)
    _wire, port = on_wire(device)
    firmware = image(3)

    device.install(firmware, "over Wi-Fi")
    assert device.flash.running_version == 1 and device.busy  # waiting for power
    assert device.client_outcome is None

    clock.run_until(100.0)
    device.power_on()
    assert device.flash.running_version == 3
    assert device.flash.running == firmware
    assert device.client_outcome == (Outcome.ACTIVATED, "installed over Wi-Fi")
    assert device.stats.activated_at == 100.0 and device.stats.bytes == len(firmware)
    assert not device.powered and device.busy  # rebooting into it

    clock.run_until(100.0 + REBOOT_S)
    assert device.powered and not device.busy
    assert port.power == [(100.0, True), (100.0, False), (100.0 + REBOOT_S, True)]


def test_install_while_on_reboots_into_the_new_image():
    clock = VirtualClock()
    device = plain_device(clock)
    on_wire(device)
    device.power_on()
    clock.run_until(50.0)
    device.install(image(3), "at a site visit")
    assert device.activated and device.client_outcome == (
        Outcome.ACTIVATED,
        "installed at a site visit",
    )
    assert device.busy
    clock.run_until(50.0 + REBOOT_S)
    assert device.powered and device.client.current_file_version == 3


def test_image_stamp_is_the_stamp_of_the_image_flash_boots():
    """ImageStamp (0x000A) is the running image's stamp, read at boot as EmberZNet reads its
    application's (see tests/ota/test_client_emberznet.py): it follows the image the device
    boots after an install, and is never the 0 it used to be."""
    clock = VirtualClock()
    device = plain_device(clock)
    on_wire(device)
    device.power_on()
    clock.run_until(1.0)
    old = device.flash.running
    assert device.client.image_stamp == oc.image_stamp(old) != 0
    device.install(image(3), "at a site visit")
    clock.run_until(1.0 + REBOOT_S)
    assert device.client.image_stamp == oc.image_stamp(image(3)) != oc.image_stamp(old)


# -- the outcome it keeps ------------------------------------------------------------------------


def outcomes_seen(device) -> list:
    """Every distinct `client_outcome` the device reported, in order."""
    seen: list = []

    def record() -> None:
        if not seen or seen[-1] != device.client_outcome:
            seen.append(device.client_outcome)

    device.on_change = record
    return seen


def test_no_image_is_the_outcome_of_a_device_nothing_is_offered_to():
    clock = VirtualClock()
    device = plain_device(clock)
    on_wire(device)
    device.power_on()
    clock.run_until(10.0)
    assert device.client_outcome == (Outcome.NO_IMAGE, "NO_IMAGE_AVAILABLE")


def test_no_image_after_activation_is_not_news():
    """After activating, the device's routine query finds nothing newer: still activated."""
    clock = VirtualClock()
    device = plain_device(clock)
    wire, _port = on_wire(device, offer=image(2))
    seen = outcomes_seen(device)
    device.power_on()
    clock.run_until(60.0)

    assert device.activated
    queries_after = [f for f in wire.up(OTA_CLUSTER) if f.t > device.stats.activated_at]
    assert queries_after  # the rebooted device did query again, and heard "no image"
    assert device.client.state is oc.State.QUERY_NEXT_IMAGE
    assert seen == [None, (Outcome.ACTIVATED, None)]


def test_no_image_after_a_rejection_keeps_the_rejection():
    clock = VirtualClock()
    device = plain_device(clock, verifier=lambda data: (False, "bad signature"))
    wire, _port = on_wire(device, offer=image(2))
    device.power_on()
    clock.run_until(60.0)
    rejected = (Outcome.REJECTED, "INVALID_IMAGE: bad signature")
    assert device.client_outcome == rejected

    wire.hub.server.store = ImageStore()  # the campaign is withdrawn
    clock.run_until(60.0 + 2 * QUICK.query_interval_s)
    assert device.client.state is oc.State.QUERY_NEXT_IMAGE
    assert device.client_outcome == rejected


def test_a_new_download_attempt_clears_an_old_failure():
    verdicts = iter([(False, "bad signature"), (True, None)])
    clock = VirtualClock()
    device = plain_device(clock, verifier=lambda data: next(verdicts))
    on_wire(device, offer=image(2))
    seen = outcomes_seen(device)
    device.power_on()
    clock.run_until(2 * QUICK.query_interval_s)

    assert seen == [
        None,
        (Outcome.REJECTED, "INVALID_IMAGE: bad signature"),
        None,  # the second download started: the rejection is history
        (Outcome.ACTIVATED, None),
    ]


def test_busy_while_rebooting_after_a_cut_and_idle_once_up():
    clock = VirtualClock()
    device = plain_device(clock, power_cuts=(PowerCut(at_time=20.0, off_for_s=3.0),))
    on_wire(device)
    device.power_on()
    clock.run_until(19.0)
    assert not device.busy
    clock.run_until(20.0)
    assert device.busy
    clock.run_until(22.9)
    assert device.busy
    clock.run_until(23.0)
    assert not device.busy


def test_busy_from_the_moment_of_activation_until_the_reboot():
    clock = VirtualClock()
    device = plain_device(clock)
    on_wire(device, offer=image(2))
    seen: list[tuple[float, bool, bool]] = []
    device.on_change = lambda: seen.append((clock.now, device.activated, device.busy))
    device.power_on()
    clock.run_until(60.0)

    activated_at = device.stats.activated_at
    assert activated_at is not None
    during = [busy for t, activated, busy in seen if activated and t == activated_at]
    assert during and all(during)


# -- GBCS while off ------------------------------------------------------------------------------


def cs06_for(device, firmware: bytes) -> bytes:
    config = device.gb.handler.config
    (command,) = ActivationPlan(mode="critical").commands(
        config.device_id,
        config.ka_key.public_key(),
        image_hash(manufacturer_image(firmware)),
        seed=DEFAULT_SEED,
    )
    return command


def test_a_tunnel_frame_to_a_device_that_is_off_is_recorded_as_lost():
    clock = VirtualClock()
    device = device_of(clock, "ihd-opt1")
    wire, _port = on_wire(device)
    cs06 = cs06_for(device, image(2))
    counter = decode_frame(cs06).header.counter

    clock.run_until(4.0)
    device.tunnel_frame(wire.hub.tunnel.frame(cs06))
    device.tunnel_frame(
        wire.hub.tunnel.frame(HUB_INSTRUCTION_ACTIVATE, tunnel_id=HUB_INSTRUCTION_TUNNEL_ID)
    )

    assert device.gbcs_received == [
        {"t": 4.0, "counter": counter, "verdict": None},
        {"t": 4.0, "counter": None, "kind": "hub-instruction", "verdict": None},
    ]
    assert [(e["event"], e["command"]) for e in device.events] == [
        ("gbcs-lost", "gbcs"),
        ("gbcs-lost", "hub-instruction"),
    ]
    assert device.gb.log.verdict is None  # the handler never saw either
    assert wire.frames == []  # and the device answered nothing


def test_the_same_tunnel_frame_to_a_powered_device_gets_a_verdict_and_a_response():
    clock = VirtualClock()
    device = device_of(clock, "ihd-opt1")
    wire, _port = on_wire(device)
    device.power_on()
    device.tunnel_frame(wire.hub.tunnel.frame(cs06_for(device, image(2))))

    (entry,) = device.gbcs_received
    assert entry["verdict"] == "accepted"
    assert "detail" in entry
    (response,) = [f for f in wire.frames if f.up]
    assert response.tunnel[0] == GBCS_TUNNEL_ID and response.t == 0.0
