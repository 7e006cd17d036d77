"""`HeadEndRunner`: the supplier and the DCC behind a real Comms Hub, for real devices of shipped
profiles. Every frame the hub sends is recorded on the wire, so a test sees when the head-end
acted and what it sent: distribution by route, CS06 on the receipt alert (never before, never
after a failed verification), the hub's instruction to a CH-managed device, retries of a command
that got no response, and an explicit activation time."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from wire import Frame, Wire, device_of

from emulator.clock import VirtualClock
from emulator.device.campaign import ActivationMode, ActivationPlan, at_time, profile_image
from emulator.device.gbdevice import device_entity_id, manufacturer_image
from emulator.device.headend import (
    DCC_LATENCY_S,
    HUB_LATENCY_S,
    LOCAL_VISIT_S,
    MAX_ATTEMPTS,
    RESPONSE_TIMEOUT_S,
    DeviceCampaign,
    HeadEndRunner,
)
from emulator.device.tunnel import (
    GBCS_TUNNEL_ID,
    HUB_INSTRUCTION_ACTIVATE,
    HUB_INSTRUCTION_TUNNEL_ID,
    TUNNELING_CLUSTER,
)
from emulator.gbcs.frame import decode_frame
from emulator.gbcs.messages import ActivateFirmwareCommand
from emulator.gbcs.security import sign_frame
from emulator.ota.client import OutcomeKind
from emulator.ota.image import parse_header
from emulator.profiles import OTA_CLUSTER, Route, load_profile
from emulator.testpki import derive_key

IMAGE_SIZE = 1000


class Run:
    """One device of `profile`, a wire to a real hub, and the head-end behind the hub."""

    def __init__(
        self,
        profile: str = "ihd-opt1",
        *,
        route: Route = Route.DCC,
        mode: ActivationMode | None = None,
        activate_at: float | None = None,
        dcc_latency_s: float = DCC_LATENCY_S,
    ) -> None:
        self.clock = VirtualClock()
        self.wire = Wire(self.clock)
        self.device = device_of(self.clock, profile, route=route)
        self.wire.attach(self.device)
        self.runner = HeadEndRunner(
            self.clock,
            self.wire.hub,
            lambda device, image: self.wire.hub.offer(device.nwk, image),
            dcc_latency_s=dcc_latency_s,
        )
        plan = ActivationPlan()
        if mode is None:
            mode = plan.resolved_mode(load_profile(profile)) if route == Route.DCC else "none"
        self.campaign = DeviceCampaign(
            self.device, route, plan, ActivationMode(mode), activate_at=activate_at
        )
        self.runner.add(self.campaign)
        self.image = profile_image(load_profile(profile), size=IMAGE_SIZE)

    def distribute(self, at: float = 0.0) -> None:
        self.clock.call_at(at, self.runner.distribute, self.campaign, self.image)

    def receipt_alert(self, at: float, *, verified: bool = True) -> None:
        """At `at`, the device's own handler stores the image and its alert (8F72 verified,
        8F1C refused) reaches the hub, as if the device had downloaded it."""

        def send() -> None:
            handler = self.device.gb.handler
            version = parse_header(self.image).file_version.to_bytes(4, "big")
            outcome = handler.image_stored(
                manufacturer_image(self.image), version, verified=verified, now=at_time(at)
            )
            (alert,) = outcome.alerts
            self.wire.hub.tunnel_received(self.device.nwk, self.device.tunnel.frame(alert))

        self.clock.call_at(at, send)

    def commands_sent(self) -> list[Frame]:
        """Tunnel frames the hub sent the device (GBCS commands and hub instructions)."""
        return self.wire.down(TUNNELING_CLUSTER)


def cs06(frame: Frame) -> ActivateFirmwareCommand:
    tunnel_id, data = frame.tunnel
    assert tunnel_id == GBCS_TUNNEL_ID
    return ActivateFirmwareCommand.from_der(decode_frame(data).payload)


# -- the receipt alert starts activation -----------------------------------------------------------


def test_nothing_is_sent_before_the_receipt_alert():
    run = Run()
    run.distribute(at=0.0)
    run.clock.run_until(86400.0)
    assert run.commands_sent() == []
    assert run.campaign.commands == [] and not run.campaign.sent
    (notify,) = run.wire.down(OTA_CLUSTER)  # the DCC route: the hub's Image Notify, only
    assert notify.t == 0.0
    assert len(run.wire.hub.server.store) == 1


def test_after_8f72_the_cs06_leaves_after_the_dcc_latency_with_the_distributed_hash():
    run = Run(dcc_latency_s=45.0)
    run.distribute(at=0.0)
    run.receipt_alert(at=100.0)
    run.clock.run_until(144.9)
    assert run.commands_sent() == []
    run.clock.run_until(145.0)

    (frame,) = run.commands_sent()
    assert frame.t == pytest.approx(145.0)
    expected = hashlib.sha256(manufacturer_image(run.image)).digest()
    assert cs06(frame).image_hash == expected == run.campaign.image_hash
    header = decode_frame(frame.tunnel[1])
    assert header.header.recipient == device_entity_id(run.device.ieee)
    assert header.signature is not None  # ihd-opt1 is Critical: the supplier signs
    assert run.campaign.alerts == ["8F72"]
    (record,) = run.campaign.commands
    assert record["kind"] == "activate" and record["critical"] is True
    assert record["hash"] == expected.hex().upper()


def test_no_cs06_after_a_failed_verification_alert():
    run = Run()
    run.distribute(at=0.0)
    run.receipt_alert(at=100.0, verified=False)
    run.clock.run_until(86400.0)
    assert run.campaign.alerts == ["8F1C"]
    assert run.commands_sent() == [] and not run.campaign.sent
    assert run.campaign.scheduled == 0


def test_a_plain_download_with_mode_none_gets_no_command():
    run = Run(mode=ActivationMode.NONE)
    run.distribute(at=0.0)
    run.receipt_alert(at=100.0)
    run.clock.run_until(86400.0)
    assert run.commands_sent() == []
    assert run.campaign.activation_over


# -- retries ---------------------------------------------------------------------------------------


def test_a_command_without_response_is_sent_again_then_given_up():
    """The device has no power: each attempt is lost. Same GBCS bytes every time (same
    originator counter: a repeat, not a new command), RESPONSE_TIMEOUT_S apart."""
    run = Run()
    run.distribute(at=0.0)
    run.receipt_alert(at=100.0)
    first = 100.0 + DCC_LATENCY_S
    give_up = first + MAX_ATTEMPTS * RESPONSE_TIMEOUT_S
    run.clock.run_until(give_up - 0.001)
    (record,) = run.campaign.commands
    assert "gave_up" not in record and run.campaign.scheduled == 1

    run.clock.run_until(86400.0)
    sent = run.commands_sent()
    assert len(sent) == MAX_ATTEMPTS == 3
    assert [f.t for f in sent] == pytest.approx(
        [first + i * RESPONSE_TIMEOUT_S for i in range(MAX_ATTEMPTS)]
    )
    assert len({f.tunnel[1] for f in sent}) == 1
    assert len({f.data for f in sent}) == MAX_ATTEMPTS  # each its own ZCL frame
    assert record["attempts"] == MAX_ATTEMPTS
    assert record["gave_up"] == "no response after 3 attempts"
    assert "response" not in record
    assert run.campaign.scheduled == 0 and run.campaign.activation_over
    assert [e["verdict"] for e in run.device.gbcs_received] == [None, None, None]


def test_a_response_stops_the_retries():
    """The first attempt reaches a device with no power; it is back before the second, which
    it answers: no third attempt."""
    run = Run()
    run.distribute(at=0.0)
    run.receipt_alert(at=100.0)
    first = 100.0 + DCC_LATENCY_S
    run.clock.call_at(first + 10.0, run.device.power_on)
    run.clock.run_until(86400.0)

    sent = run.commands_sent()
    assert [f.t for f in sent] == pytest.approx([first, first + RESPONSE_TIMEOUT_S])
    (record,) = run.campaign.commands
    assert record["attempts"] == 2
    assert record["response"] == 0 and run.campaign.activation_response == 0
    assert "gave_up" not in record and run.campaign.scheduled == 0
    assert run.device.activated


def test_a_device_with_power_downloads_answers_once_and_activates():
    run = Run()
    run.device.power_on()
    run.distribute(at=5.0)
    run.clock.run_until(86400.0)

    (alert,) = [f for f in run.wire.up(TUNNELING_CLUSTER) if f.t < run.commands_sent()[0].t]
    (frame,) = run.commands_sent()
    assert frame.t == pytest.approx(alert.t + run.wire.latency_s + DCC_LATENCY_S)
    (record,) = run.campaign.commands
    assert record["attempts"] == 1 and record["response"] == 0
    assert run.campaign.receipt_hash == run.campaign.image_hash
    assert run.device.client_outcome == (OutcomeKind.ACTIVATED, None)


# -- CH-managed ------------------------------------------------------------------------------------


def test_ch_managed_has_the_hub_instruct_the_device_after_the_hub_latency():
    run = Run("ppmid-ch-managed")
    assert run.campaign.mode is ActivationMode.CH_MANAGED
    run.device.power_on()
    run.distribute(at=5.0)
    run.clock.run_until(86400.0)

    receipt = run.wire.up(TUNNELING_CLUSTER)[0]
    (frame,) = run.commands_sent()
    assert frame.tunnel == (HUB_INSTRUCTION_TUNNEL_ID, HUB_INSTRUCTION_ACTIVATE)
    assert frame.t == pytest.approx(receipt.t + run.wire.latency_s + HUB_LATENCY_S)
    (record,) = run.campaign.commands
    assert record["kind"] == "hub-instruction" and "gave_up" not in record
    # Receipt, CS09 (activated), then the change of executing firmware.
    assert run.campaign.alerts == ["8F72", "8F8B", "8F43"]
    assert run.campaign.cs09_result == 0
    assert run.device.activated


# -- other routes ----------------------------------------------------------------------------------


def not_by_the_hub(run: Run) -> bool:
    """The hub's server never held the image nor served a block, and no command was sent (the
    hub only answered the device's routine queries)."""
    server = run.wire.hub.server
    return len(server.store) == 0 and server.blocks_served == 0 and run.commands_sent() == []


def test_wifi_route_hands_the_campaign_to_the_wifi_route_not_the_hub():
    run = Run("cad", route=Route.WIFI)
    handed: list[tuple[float, DeviceCampaign, bytes]] = []
    run.runner.wifi = lambda campaign, image: handed.append((run.clock.now, campaign, image))
    run.device.power_on()
    run.distribute(at=10.0)
    run.clock.run_until(3600.0)

    assert handed == [(10.0, run.campaign, run.image)]
    assert run.campaign.distributed and run.campaign.ended is None
    assert not run.device.activated  # the Wi-Fi route installs, when the device checks
    assert not_by_the_hub(run)


def test_wifi_campaign_with_no_wifi_route_ends_with_the_reason():
    run = Run("cad", route=Route.WIFI)
    run.device.power_on()
    run.distribute(at=10.0)
    run.clock.run_until(60.0)
    assert run.campaign.ended == "no Wi-Fi update server in this run"
    assert not run.device.activated


def test_local_route_installs_at_the_site_visit():
    run = Run("cad", route=Route.LOCAL)
    run.device.power_on()
    run.distribute(at=10.0)
    run.clock.run_until(10.0 + LOCAL_VISIT_S - 1.0)
    assert not run.device.activated
    run.clock.run_until(10.0 + LOCAL_VISIT_S)
    assert run.device.stats.activated_at == 10.0 + LOCAL_VISIT_S
    assert run.device.client_outcome == (OutcomeKind.ACTIVATED, "installed at a site visit")
    assert not_by_the_hub(run)


# -- an explicit activation time -------------------------------------------------------------------


@pytest.mark.parametrize("alert_at", [None, 100.0])
def test_activate_at_sends_at_that_time_whatever_the_alert(alert_at):
    run = Run(activate_at=500.0)
    run.distribute(at=0.0)
    if alert_at is not None:
        run.receipt_alert(at=alert_at)
    run.clock.run_until(499.9)
    assert run.commands_sent() == []
    run.clock.run_until(500.0)
    (frame,) = run.commands_sent()
    assert frame.t == 500.0
    assert cs06(frame).image_hash == run.campaign.image_hash
    assert len(run.campaign.commands) == 1


# -- what the head-end believes ------------------------------------------------------------------


def forged_receipt(run: Run, *, key=None, unsigned: bool = False) -> bytes:
    """An 8F72 in the device's name for the distributed image, re-signed with `key` (or with no
    signature at all): what a rogue node on the HAN could send to start the activation."""
    handler = run.device.gb.handler
    version = parse_header(run.image).file_version.to_bytes(4, "big")
    # The alert's form comes from the device's own handler (the forger knows the protocol);
    # only the signature is the forger's.
    outcome = handler.image_stored(
        manufacturer_image(run.image), version, verified=True, now=at_time(10.0)
    )
    frame = replace(decode_frame(outcome.alerts[0]), signature=None)
    if not unsigned:
        frame = sign_frame(frame, key)
    return frame.encode()


@pytest.mark.parametrize("unsigned", [False, True], ids=["rogue-signature", "unsigned"])
def test_a_receipt_alert_not_signed_by_the_device_starts_nothing(unsigned):
    """A spoofed 8F72 (signed by another key, or not at all) is not the device's: the head-end
    records why and sends no CS06 for it."""
    run = Run()
    run.distribute(at=0.0)
    forged = forged_receipt(run, key=derive_key("rogue"), unsigned=unsigned)
    run.clock.call_at(
        10.0,
        lambda: run.wire.hub.tunnel_received(run.device.nwk, run.device.tunnel.frame(forged)),
    )
    run.clock.run_until(10.0 + DCC_LATENCY_S + 600.0)
    assert run.commands_sent() == []
    assert run.campaign.alerts == [] and run.campaign.receipt_hash is None
    reason = "neither signed nor MAC'd" if unsigned else "the device's signature does not verify"
    assert run.campaign.unauthenticated == [f"0x00CF: {reason}"]


def test_the_devices_own_receipt_alert_is_believed():
    run = Run()
    run.distribute(at=0.0)
    run.receipt_alert(at=10.0)
    run.clock.run_until(10.0 + DCC_LATENCY_S + 1.0)
    assert run.campaign.unauthenticated == []
    assert len(run.commands_sent()) == 1
