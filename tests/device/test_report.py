"""The settle rule (`settled`: may the run end?) and the outcome rule (`judge`: what did the
update come to, and why), on small situations built from real devices, real GBCS commands and
the head-end's `DeviceCampaign` records."""

from __future__ import annotations

import pytest
from wire import Wire, device_of, plain_device

from emulator.clock import VirtualClock
from emulator.device.campaign import (
    ActivationMode,
    ActivationPlan,
    at_time,
    image_hash,
    profile_image,
)
from emulator.device.emulated import PowerCut
from emulator.device.flash import MemoryFlash
from emulator.device.gbdevice import manufacturer_image
from emulator.device.headend import DeviceCampaign
from emulator.device.report import device_report, judge, settled
from emulator.gbcs.headend import HeadEnd
from emulator.ota import client as oc
from emulator.ota.client import OutcomeKind
from emulator.ota.image import build_image, parse_header
from emulator.profiles import Route, load_profile
from emulator.testpki import DEFAULT_SEED, derive_key

PROFILE = "ihd-opt1"
IMAGE = profile_image(load_profile(PROFILE), size=500)


class Situation:
    """A GB device of ihd-opt1 on a wire, the head-end's record of its campaign, and a head-end
    that numbers the commands it writes for it."""

    def __init__(self, *, downloaded: bool = False, mode=ActivationMode.CRITICAL) -> None:
        self.clock = VirtualClock()
        self.wire = Wire(self.clock)
        flash = None
        if downloaded:
            flash = downloaded_flash(IMAGE)
        self.device = device_of(self.clock, PROFILE, flash=flash)
        self.wire.attach(self.device)
        self.campaign = DeviceCampaign(
            self.device,
            Route.DCC,
            ActivationPlan(),
            mode,
            image=IMAGE,
            image_hash=image_hash(manufacturer_image(IMAGE)),
            distributed=True,
        )
        self.headend = HeadEnd(derive_key("acb", DEFAULT_SEED))

    def cs06(self, **plan) -> bytes:
        config = self.device.gb.handler.config
        plan.setdefault("mode", "critical")
        return ActivationPlan(**plan).commands(
            config.device_id,
            config.ka_key.public_key(),
            self.campaign.image_hash,
            seed=DEFAULT_SEED,
            headend=self.headend,
        )[0]

    def deliver(self, message: bytes, record: dict) -> dict:
        """The head-end sends `message` (one more attempt of `record`) and it reaches the
        device, powered or not."""
        self.device.tunnel_frame(self.wire.hub.tunnel.frame(message))
        record["attempts"] = record.get("attempts", 0) + 1
        if record not in self.campaign.commands:
            self.campaign.commands.append(record)
        return record

    def store_image(self) -> None:
        """The device's GBCS side holds the image (as after a verified download)."""
        version = parse_header(IMAGE).file_version.to_bytes(4, "big")
        self.device.gb.handler.image_stored(
            manufacturer_image(IMAGE), version, verified=True, now=at_time(self.clock.now)
        )

    def report(self):
        return device_report(self.device, self.campaign, profile=PROFILE, route="dcc", expect=None)


def downloaded_flash(image: bytes) -> MemoryFlash:
    """Flash whose download slot holds all of `image`, committed, not yet activated."""
    z = load_profile(PROFILE).zigbee
    header = parse_header(image)
    flash = MemoryFlash(
        build_image(
            b"running",
            manufacturer_id=z.manufacturer_id,
            image_type=z.image_type,
            file_version=z.firmware_version,
        )
    )
    flash.write_slot(0, image)
    flash.commit_record(
        oc.DownloadRecord(
            header.manufacturer_id,
            header.image_type,
            header.file_version,
            len(image),
            len(image),
        )
    )
    return flash


def counter_of(device) -> int:
    return device.gbcs_received[-1]["counter"]


# -- settled ---------------------------------------------------------------------------------


def test_a_device_off_the_han_with_no_campaign_is_settled_at_once_unless_busy():
    clock = VirtualClock()
    device = plain_device(clock, power_cuts=(PowerCut(at_time=5.0, off_for_s=10.0),))
    Wire(clock).attach(device)
    assert settled(device, None, on_han=False)
    device.power_on()
    clock.run_until(5.0)
    assert device.busy and not settled(device, None, on_han=False)
    clock.run_until(15.0)
    assert settled(device, None, on_han=False)


def test_a_han_device_with_no_campaign_is_settled_once_its_query_was_answered():
    clock = VirtualClock()
    device = plain_device(clock)
    Wire(clock).attach(device)
    device.power_on()
    assert not settled(device, None, on_han=True)
    clock.run_until(1.0)  # looking for the server
    assert not settled(device, None, on_han=True)
    clock.run_until(2.0)
    assert device.client_outcome == (OutcomeKind.NO_IMAGE, "NO_IMAGE_AVAILABLE")
    assert settled(device, None, on_han=True)


def test_a_campaign_not_yet_distributed_or_with_a_command_under_way_is_not_settled():
    clock = VirtualClock()
    device = plain_device(clock)
    Wire(clock).attach(device)
    campaign = DeviceCampaign(device, Route.LOCAL, ActivationPlan(), ActivationMode.NONE)
    device.power_on()
    device.install(
        build_image(b"new", manufacturer_id=0x1234, image_type=0x0101, file_version=2),
        "at a site visit",
    )
    campaign.distributed = True
    assert device.activated and not settled(device, campaign, on_han=False)  # rebooting
    clock.run_until(10.0)
    assert settled(device, campaign, on_han=False)
    campaign.scheduled = 1
    assert not settled(device, campaign, on_han=False)
    campaign.scheduled = 0
    campaign.distributed = False
    assert not settled(device, campaign, on_han=False)


def test_a_device_waiting_out_of_band_is_settled_when_the_head_end_has_nothing_more():
    s = Situation(downloaded=True)
    s.device.power_on()
    s.clock.run_until(30.0)  # boots, finds the server, re-verifies the slot: waits
    assert s.device.client.state is oc.State.UPGRADE_VIA_OUT_OF_BAND
    assert not settled(s.device, s.campaign, on_han=True)  # CS06 not sent yet
    s.campaign.sent = True
    assert settled(s.device, s.campaign, on_han=True)

    s.campaign.mode, s.campaign.sent = ActivationMode.NONE, False
    assert settled(s.device, s.campaign, on_han=True)  # nothing was ever to come


def test_a_rejected_download_is_settled_though_the_device_will_retry():
    clock = VirtualClock()
    device = device_of(clock, PROFILE)
    wire = Wire(clock)
    wire.attach(device)
    wire.hub.server.store.add(profile_image(load_profile(PROFILE), size=500, supplier="rogue"))
    campaign = DeviceCampaign(
        device, Route.DCC, ActivationPlan(), ActivationMode.CRITICAL, distributed=True
    )
    device.power_on()
    clock.run_until(30.0)
    assert device.client_outcome[0] is OutcomeKind.REJECTED
    assert settled(device, campaign, on_han=True)


# -- judge -----------------------------------------------------------------------------------------


def test_no_campaign_and_no_word_from_the_device_is_no_image():
    s = Situation()
    assert judge(s.device, None) == (OutcomeKind.NO_IMAGE, "no campaign for this device")


def test_a_campaign_the_device_never_answered_failed():
    s = Situation()
    assert judge(s.device, s.campaign) == (
        OutcomeKind.FAILED,
        "no outcome within the simulated time",
    )


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (ActivationMode.NONE, "no activation asked for; waiting for activation"),
        (ActivationMode.CRITICAL, "activation pending beyond the simulated time"),
    ],
)
def test_a_downloaded_image_with_no_command_says_why_it_waits(mode, reason):
    s = Situation(downloaded=True, mode=mode)
    assert s.device.downloaded
    assert judge(s.device, s.campaign) == (OutcomeKind.DOWNLOADED, reason)


def test_a_plain_device_holding_an_image_waits_for_the_server():
    clock = VirtualClock()
    device = plain_device(clock)
    image = build_image(b"new", manufacturer_id=0x1234, image_type=0x0101, file_version=2)
    device.flash.write_slot(0, image)
    device.flash.commit_record(oc.DownloadRecord(0x1234, 0x0101, 2, len(image), len(image)))
    assert judge(device, None) == (
        OutcomeKind.DOWNLOADED,
        "waiting for the server to say when to upgrade",
    )


def test_a_command_that_only_reached_a_device_without_power_is_lost_not_refused():
    s = Situation(downloaded=True)
    message = s.cs06()
    record = {"kind": "activate", "counter": 1}
    for _ in range(3):
        s.deliver(message, record)
    report = s.report()
    assert (report.outcome, report.reason) == (
        OutcomeKind.DOWNLOADED,
        "activate: never processed (the device was off)",
    )
    assert "verdict" not in record


def test_the_verdict_is_the_first_attempt_that_reached_a_powered_device():
    s = Situation()
    message = s.cs06(supplier="rogue")
    record = {"kind": "activate", "counter": 1}
    s.clock.run_until(10.0)
    s.deliver(message, record)  # off: lost
    s.device.power_on()
    s.clock.run_until(20.0)
    s.deliver(message, record)  # processed, refused
    report = s.report()

    assert record["t"] == 20.0 and record["verdict"] == "supplier-not-in-slot"
    assert "no certificate slot" in record["detail"]
    assert report.outcome is OutcomeKind.REJECTED
    assert report.reason == "CS06 refused: supplier-not-in-slot"


def test_an_accepted_command_with_a_failing_response_code_is_a_rejection():
    s = Situation()
    s.device.power_on()
    s.store_image()
    record = s.deliver(s.cs06(image_hash=b"\x11" * 32), {"kind": "activate", "counter": 1})
    record["response"] = 2  # as the head-end records the device's response
    report = s.report()
    assert record["verdict"] == "accepted"
    assert (report.outcome, report.reason) == (OutcomeKind.REJECTED, "CS06 hashMismatch")


def test_an_activation_the_ota_client_never_carried_out_is_named():
    """The handler accepted CS06 for an image its OTA client never downloaded."""
    s = Situation()
    s.device.power_on()
    s.store_image()
    record = s.deliver(s.cs06(), {"kind": "activate", "counter": 1})
    record["response"] = 0
    report = s.report()
    assert record["verdict"] == "accepted" and not s.device.activated
    assert report.outcome is OutcomeKind.REJECTED
    assert report.reason == "the device accepted activation but its OTA client did not switch"


def test_a_cancelled_future_dated_activation_leaves_the_image_downloaded():
    s = Situation(downloaded=True)
    s.device.power_on()
    s.store_image()
    at = at_time(86400.0)
    dated, cancel = ActivationPlan(mode="critical", at=at, cancel=True).commands(
        s.device.gb.handler.config.device_id,
        s.device.gb.handler.config.ka_key.public_key(),
        s.campaign.image_hash,
        seed=DEFAULT_SEED,
        headend=s.headend,
    )
    s.deliver(dated, {"kind": "future-dated", "counter": 1})
    s.deliver(cancel, {"kind": "cancel", "counter": 2})
    report = s.report()
    assert [c["verdict"] for c in s.campaign.commands] == ["accepted", "accepted"]
    assert (report.outcome, report.reason) == (
        OutcomeKind.DOWNLOADED,
        "future-dated activation cancelled",
    )


def test_head_end_failures_are_notes_of_a_rejection():
    s = Situation(downloaded=True)
    s.campaign.future_dated_code = 3
    s.campaign.cs09_result = 1
    assert judge(s.device, s.campaign) == (
        OutcomeKind.REJECTED,
        "future-dated activation failed: activationFailure; "
        "Comms Hub activation failed (CS09 result failure)",
    )


def test_an_activated_device_reports_how_and_the_client_word_comes_first_for_a_failure():
    s = Situation(downloaded=True)
    s.device.power_on()
    s.device.install(IMAGE, "over Wi-Fi")
    assert judge(s.device, s.campaign) == (OutcomeKind.ACTIVATED, "installed over Wi-Fi")

    clock = VirtualClock()
    device = device_of(clock, PROFILE)
    wire = Wire(clock)
    wire.attach(device)
    wire.hub.server.store.add(profile_image(load_profile(PROFILE), size=500, supplier="rogue"))
    campaign = DeviceCampaign(
        device, Route.DCC, ActivationPlan(), ActivationMode.CRITICAL, distributed=True
    )
    campaign.cs09_result = 1
    device.power_on()
    clock.run_until(30.0)
    outcome, reason = judge(device, campaign)
    assert outcome is OutcomeKind.REJECTED
    assert reason.startswith("INVALID_IMAGE: ")
    assert reason.endswith("; Comms Hub activation failed (CS09 result failure)")


def test_the_report_is_as_expected_when_it_matches_or_did_not_fail():
    s = Situation(downloaded=True)
    report = s.report()
    assert report.outcome is OutcomeKind.DOWNLOADED and report.as_expected
    report.expect = OutcomeKind.ACTIVATED
    assert not report.as_expected
    data = report.to_json()
    assert data["outcome"] == "downloaded" and data["as_expected"] is False
    assert data["activation_mode"] == "critical"
    assert data["image_hash"] == s.campaign.image_hash.hex().upper()
    assert data["final_file_version"] == data["start_file_version"]
