"""GB firmware campaigns end to end: distribute -> receipt alert -> activate, per profile.

Each test runs the real pieces in virtual time: the OTA client downloads a GB OTA Upgrade Image
from the OTA server through real ZCL frames, the device verifies it and raises the receipt alert,
the head-end's CS06 bytes (or the Comms Hub's instruction) reach the device's `ActivationHandler`
as SE Tunneling frames, and an accepted activation switches the running image in flash through
the client's own out-of-band activation. The negative matrix checks that each attack or mistake
leaves the old firmware running, with the response code or alert GBCS asks for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any

import pytest
from simulation import Simulation

from emulator.device.campaign import EPOCH, ActivationPlan, profile_image, seconds_at
from emulator.device.emulated import PowerCut
from emulator.device.gbdevice import client_policy
from emulator.device.headend import MAX_ATTEMPTS, dcc_refusal
from emulator.gbcs.activation import ACTIVATION_RULES
from emulator.ota.client import ClientIdentity
from emulator.ota.image import build_image, parse_image
from emulator.profiles import load_all, load_profile

DEVICE_IEEE = 0x00DB1234567890B1
SIZE = 4096
DCC_PROFILES = sorted(
    p.name
    for p in load_all()
    if dcc_refusal(p) is None and not ACTIVATION_RULES[p.activation].display_message_activates
)
"""Profiles the DCC serves and activates by a GBCS command (CS06 or the Comms Hub's); the
display-message class and the DCC's refusals have their own tests (tests/options)."""
TOMORROW = EPOCH + dt.timedelta(days=1)


def running_image(name: str) -> bytes:
    z = load_profile(name).zigbee
    return build_image(
        b"old firmware",
        manufacturer_id=z.manufacturer_id,
        image_type=z.image_type,
        file_version=z.firmware_version,
    )


def campaign(
    name: str,
    plan: ActivationPlan | None = None,
    *,
    image: bytes | None = None,
    headend_at: float | None = None,
    seed: int = 3,
    power_cuts: tuple[PowerCut, ...] = (),
    hold_until: float | None = None,
) -> tuple[Simulation, Any, bytes]:
    profile = load_profile(name)
    z = profile.zigbee
    image = image if image is not None else profile_image(profile, size=SIZE, seed=seed)
    sim = Simulation(
        running_image=running_image(name),
        images=[image],
        identity=ClientIdentity(z.manufacturer_id, z.image_type, ieee=DEVICE_IEEE),
        client_policy=client_policy(profile),
        gb_profile=profile,
        plan=plan if plan is not None else ActivationPlan(),
        headend_at=headend_at,
        seed=seed,
        power_cuts=power_cuts,
        hold_until=hold_until,
    )
    return sim, sim.run(), image


def mi_hash(image: bytes) -> bytes:
    return hashlib.sha256(parse_image(image).manufacturer_image).digest()


def event_time(result: Any, kind: str) -> float:
    return next(e["t"] for e in result.events if e["event"] == kind)


def out_of_band_time(result: Any) -> float:
    return next(
        e["t"]
        for e in result.events
        if e["event"] == "transition" and e["to"] == "upgrade-via-out-of-band"
    )


def assert_old_firmware(sim: Simulation, result: Any, name: str) -> None:
    version = load_profile(name).zigbee.firmware_version
    assert result.final_file_version == result.start_file_version == version
    assert result.running_image == running_image(name)
    assert sim.gb is not None
    assert sim.gb.handler.state.running_version == version.to_bytes(4, "big")
    assert not any(e["event"] == "activated" for e in result.events)
    assert not result.running_changed_before_activation


# -- acceptance 1: every DCC-route profile, distribute -> 8F72 -> activate ----------------------


@pytest.mark.parametrize("name", DCC_PROFILES)
def test_dcc_profile_distribute_receipt_activate(name):
    sim, result, image = campaign(name)
    profile = load_profile(name)
    new_version = profile.zigbee.firmware_version + 1

    assert result.outcome == "activated", result.reason
    assert result.reason is None
    # The receipt alert reached the head-end with SHA-256 of the Manufacturer Image alone.
    assert result.alerts[0] == "8F72"
    assert result.gb is not None
    assert result.gb["receipt_hash"] == mi_hash(image).hex().upper()
    # The server's "upgrade now" did not switch firmware: the client waited out of band ...
    states = [e["to"] for e in result.events if e["event"] == "transition"]
    assert "upgrade-via-out-of-band" in states
    waited = out_of_band_time(result)
    # ... until the GBCS activation came, and only then did flash switch.
    assert waited < event_time(result, "gbcs") < event_time(result, "activated")
    assert not result.running_changed_before_activation
    assert result.final_file_version == new_version
    assert result.running_image == image
    assert sim.gb is not None
    assert sim.gb.handler.state.running_version == new_version.to_bytes(4, "big")
    if profile.activation == "ch-managed":
        # CS09 after the hub's activation, then 8F43 for the change of executing firmware.
        assert result.alerts == ["8F72", "8F8B", "8F43"]
        assert result.activation_response is None  # no CS06 was sent
        assert [c["kind"] for c in result.gb["commands"]] == ["hub-instruction"]
    else:
        assert result.alerts == ["8F72", "8F43"]
        assert result.activation_response == 0
        (command,) = result.gb["commands"]
        assert command["critical"] is (profile.activation == "critical")
        assert command["verdict"] == "accepted"
    # The device's own log agrees with what reached the head-end.
    assert sim.gb.log.alerts == result.alerts


def test_local_only_profile_is_never_offered_a_han_download():
    """A profile with no DCC route put on it is refused by the DCC and never offered the image
    (it was once activated by the server's upgrade-now)."""
    sim, result, _ = campaign("ihd")
    assert result.outcome == "rejected"
    assert result.reason == (
        "the DCC refused it: this IHD has no DCC firmware route (activation local-only)"
    )
    assert result.bytes == 0
    assert_old_firmware(sim, result, "ihd")


def test_campaign_is_deterministic():
    first = campaign("ihd-opt1", ActivationPlan(replay=True), seed=9)[1].to_json()
    second = campaign("ihd-opt1", ActivationPlan(replay=True), seed=9)[1].to_json()
    assert first == second


# -- acceptance 2: the negative matrix -------------------------------------------------------------


def test_forged_signature_is_refused():
    """CS06 claiming supplier A's identity, signed with another key."""
    sim, result, _ = campaign("ihd-opt1", ActivationPlan(supplier="forged"))
    assert result.outcome == "rejected"
    assert result.reason == "CS06 refused: signature-invalid"
    assert result.activation_response is None  # refused before processing: no response
    # Each of the head-end's three attempts fails authentication: 0x8F3D each time.
    assert result.alerts == ["8F72"] + ["8F3D"] * 3
    assert_old_firmware(sim, result, "ihd-opt1")


@pytest.mark.parametrize(
    ("name", "supplier"),
    [("hcalcs-opt1", "B"), ("ihd-opt1", "rogue"), ("ppmid-opt2", "rogue")],
)
def test_supplier_not_in_a_slot_is_refused(name, supplier):
    sim, result, _ = campaign(name, ActivationPlan(supplier=supplier))
    assert result.outcome == "rejected"
    assert result.reason == "CS06 refused: supplier-not-in-slot"
    assert result.activation_response is None
    assert_old_firmware(sim, result, name)


def test_second_supplier_in_a_dual_fuel_slot_activates():
    _, result, image = campaign("ihd-opt1", ActivationPlan(supplier="B"))
    assert result.outcome == "activated"
    assert result.running_image == image


def test_replayed_counter_cannot_revive_a_cancelled_activation():
    """An attacker replays the captured future-dated CS06 after the supplier cancelled it."""
    plan = ActivationPlan(at=TOMORROW, cancel=True, replay=True)
    sim, result, _ = campaign("ihd-opt1", plan, hold_until=seconds_at(TOMORROW) + 3600)
    assert result.gb is not None
    kinds = [(c["kind"], c["verdict"]) for c in result.gb["commands"]]
    assert kinds == [
        ("future-dated", "accepted"),
        ("cancel", "accepted"),
        ("replay", "replayed-counter"),
    ]
    assert result.outcome == "rejected"
    assert result.reason == "CS06 refused: replayed-counter"
    assert result.activation_response is None
    # Nothing is pending: even long after the original time, the old firmware runs.
    assert sim.gb is not None and sim.gb.handler.next_due() is None
    # (the run went on until an hour after the original time: hold_until)
    assert_old_firmware(sim, result, "ihd-opt1")
    assert result.alerts == ["8F72"]


def test_replayed_command_is_refused_after_the_original_activated():
    _sim, result, image = campaign("ppmid-opt1", ActivationPlan(replay=True))
    assert result.gb is not None
    first, again = result.gb["commands"]
    assert (first["verdict"], first["response"]) == ("accepted", 0)
    assert again["kind"] == "replay" and again["verdict"] == "replayed-counter"
    assert "response" not in again  # the device answers nothing to a replay
    assert result.outcome == "activated"  # the original did its job, once
    assert result.reason == "CS06 refused: replayed-counter"
    assert result.running_image == image
    assert sum(e["event"] == "activated" for e in result.events) == 1


@pytest.mark.parametrize(
    ("name", "mode", "verdict"),
    [
        ("hcalcs-opt1", "non-critical", "signature-required"),
        ("ihd-opt1", "non-critical", "signature-required"),
        ("ppmid-ch-managed", "critical", "activation-class-refuses-cs06"),
    ],
)
def test_activation_the_class_does_not_allow_is_refused(name, mode, verdict):
    sim, result, _ = campaign(name, ActivationPlan(mode=mode))
    assert result.outcome == "rejected"
    assert result.reason == f"CS06 refused: {verdict}"
    assert result.activation_response is None
    # An unsigned CS06 fails authentication (0x8F3D, on each of three attempts); a class that
    # takes no CS06 at all refuses it without an alert.
    failed_authentication = verdict == "signature-required"
    assert result.alerts == ["8F72"] + ["8F3D"] * 3 * failed_authentication
    assert_old_firmware(sim, result, name)


def test_hub_instruction_to_a_cs06_device_is_refused():
    sim, result, _ = campaign("hcalcs-opt1", ActivationPlan(mode="ch-managed"))
    assert result.outcome == "rejected"
    assert result.reason == "Comms Hub activation refused: activation-class-refuses-ch-activation"
    assert_old_firmware(sim, result, "hcalcs-opt1")


@pytest.mark.parametrize("name", ["ihd-opt1", "ppmid-opt1"])
def test_hash_mismatch(name):
    wrong = hashlib.sha256(b"some other manufacturer image").digest()
    sim, result, _ = campaign(name, ActivationPlan(image_hash=wrong))
    assert result.outcome == "rejected"
    assert result.reason == "CS06 hashMismatch"
    assert result.activation_response == 2
    assert result.alerts == ["8F72"]
    assert_old_firmware(sim, result, name)


def test_no_image_held():
    """The head-end's CS06 reaches the device before it has downloaded anything."""
    sim, result, _image = campaign("ihd-opt1", headend_at=0.5)
    assert result.gb is not None
    (command,) = result.gb["commands"]
    assert command["t"] < out_of_band_time(result)  # before the download was over
    assert command["verdict"] == "accepted"
    assert result.activation_response == 1
    assert result.outcome == "rejected"
    assert result.reason == "CS06 noImageHeld"
    # The download still completes and is stored, but nothing activates it.
    assert result.alerts == ["8F72"]
    assert sim.gb is not None and sim.gb.handler.state.stored_image is not None
    assert_old_firmware(sim, result, "ihd-opt1")


def test_future_dated_then_cancelled():
    plan = ActivationPlan(at=TOMORROW, cancel=True)
    sim, result, _ = campaign("hcalcs-opt1", plan, hold_until=seconds_at(TOMORROW) + 3600)
    assert result.gb is not None
    responses = [(c["kind"], c["verdict"], c["response"]) for c in result.gb["commands"]]
    # Both answered with the NULL response (no executionOutcome): code None.
    assert responses == [("future-dated", "accepted", None), ("cancel", "accepted", None)]
    assert result.outcome == "downloaded"
    assert result.reason == "future-dated activation cancelled"
    assert result.activation_response is None
    # (the run went on until an hour after the original time: hold_until)
    assert result.alerts == sim.alerts == ["8F72"]  # no 8F66 / 8F67 ever
    assert_old_firmware(sim, result, "hcalcs-opt1")


def test_corrupted_image_raises_8f1c_and_is_never_activated():
    profile = load_profile("ihd-opt1")
    good = profile_image(profile, size=SIZE, seed=3)
    body = parse_image(good)
    at = body.gb.manufacturer_image_offset + 100
    corrupted = good[:at] + bytes([good[at] ^ 0x01]) + good[at + 1 :]
    sim, result, _ = campaign("ihd-opt1", image=corrupted)
    assert result.alerts == ["8F1C"]
    assert result.gb is not None
    assert result.gb["receipt_hash"] == mi_hash(corrupted).hex().upper()
    assert result.outcome == "rejected"
    assert result.reason is not None and result.reason.startswith("INVALID_IMAGE: ")
    assert "signature" in result.reason
    # The head-end activates on 0x8F72 only: after 0x8F1C no CS06 is sent at all.
    assert result.activation_response is None
    assert result.gb["commands"] == []
    assert_old_firmware(sim, result, "ihd-opt1")


# -- acceptance 4: future-dated activation at the right virtual time ----------------------------


@pytest.mark.parametrize("name", ["ihd-opt1", "ppmid-opt1"])
def test_future_dated_activation_fires_at_its_time_with_8f66(name):
    _sim, result, image = campaign(name, ActivationPlan(at=TOMORROW))
    due = seconds_at(TOMORROW)
    assert result.gb is not None
    (command,) = result.gb["commands"]
    assert command["at"] == "2026-01-02T00:00:00Z"
    assert command["response"] is None  # NULL response: accepted, to be executed later
    assert command["t"] < due
    assert event_time(result, "future-dated-activation") == due
    assert due <= event_time(result, "activated")
    assert result.outcome == "activated", result.reason
    assert result.alerts == ["8F72", "8F66", "8F43"]
    assert result.activation_response is None
    assert result.running_image == image


def test_future_dated_activation_with_wrong_hash_raises_8f67():
    wrong = hashlib.sha256(b"not what was sent").digest()
    sim, result, _ = campaign("ihd-opt1", ActivationPlan(at=TOMORROW, image_hash=wrong))
    assert event_time(result, "future-dated-activation") == seconds_at(TOMORROW)
    assert result.alerts == ["8F72", "8F67"]
    assert result.outcome == "rejected"
    assert result.reason == "future-dated activation failed: hashMismatch"
    assert_old_firmware(sim, result, "ihd-opt1")


def test_ch_managed_activation_at_a_time():
    _sim, result, image = campaign("ppmid-ch-managed", ActivationPlan(at=TOMORROW))
    assert result.gb is not None
    (command,) = result.gb["commands"]
    assert command["kind"] == "hub-instruction"
    assert command["t"] >= seconds_at(TOMORROW)
    assert result.alerts == ["8F72", "8F8B", "8F43"]
    assert result.running_image == image


def test_device_without_slots_stores_a_corrupted_image_but_cs06_hash_stops_it():
    """A PPMID with no supplier certificate cannot check the image signature: it stores the
    corrupted image and reports its hash in 8F72; the supplier's CS06 names the hash of what was
    sent, so the device answers hashMismatch and keeps the old firmware."""
    profile = load_profile("ppmid-opt1")
    good = profile_image(profile, size=SIZE, seed=3)
    at = parse_image(good).gb.manufacturer_image_offset + 7
    corrupted = good[:at] + bytes([good[at] ^ 0x80]) + good[at + 1 :]
    plan = ActivationPlan(image_hash=mi_hash(good))
    sim, result, _ = campaign("ppmid-opt1", plan, image=corrupted)
    assert result.alerts == ["8F72"]
    assert result.gb is not None
    assert result.gb["receipt_hash"] == mi_hash(corrupted).hex().upper()
    assert result.gb["receipt_hash"] != mi_hash(good).hex().upper()
    assert result.activation_response == 2
    assert result.reason == "CS06 hashMismatch"
    assert_old_firmware(sim, result, "ppmid-opt1")


@pytest.mark.parametrize(("name", "signer"), [("ihd-opt1", "rogue"), ("hcalcs-opt1", "B")])
def test_image_signed_by_a_party_without_a_slot_raises_8f1c(name, signer):
    """The image's own supplier signature is checked against the device's slots on receipt."""
    image = profile_image(load_profile(name), size=SIZE, seed=3, supplier=signer)
    sim, result, _ = campaign(name, image=image)
    assert result.alerts == ["8F1C"]
    assert result.reason is not None
    assert result.reason.startswith("INVALID_IMAGE: supplier signature")
    assert result.activation_response is None  # no CS06 after 0x8F1C
    assert_old_firmware(sim, result, name)


# -- power loss while the image waits for activation ----------------------------------------------


def test_power_loss_before_cs06_arrives_resumes_and_activates():
    """Power goes after the download, while the device waits out of band, and is back before
    the supplier's CS06 arrives. The CS06 lands while the rebooted client is still finding its
    way back to the waiting state; the accepted activation waits for it, then switches."""
    _, clean, image = campaign("hcalcs-opt1")
    waited = out_of_band_time(clean)
    cut = PowerCut(at_time=waited + 0.2, off_for_s=0.3)
    sim, result, _ = campaign("hcalcs-opt1", image=image, power_cuts=(cut,))
    assert result.power_losses == 1
    assert sim.gb is not None and sim.gb.handler.state.running_version == bytes.fromhex("0123ABCE")
    assert result.outcome == "activated", result.reason
    assert result.running_image == image
    assert result.activation_response == 0
    # The handler takes the CS06 (8F43) before the rebooted client has verified the complete
    # download again, and said so again (8F72); the flash switches once the client is back.
    assert result.alerts == ["8F72", "8F43", "8F72"]
    kinds = [e["event"] for e in result.events]
    assert kinds.index("power-restored") < kinds.index("gbcs") < kinds.index("activated")
    assert not result.running_changed_before_activation


def test_cs06_sent_while_the_device_is_off_is_never_processed():
    """A command reaching a device whose radio is off is lost, not refused: the old firmware
    keeps running, the image stays downloaded and the report says why."""
    _, clean, image = campaign("hcalcs-opt1")
    # Off for longer than the head-end keeps sending it (MAX_ATTEMPTS, RESPONSE_TIMEOUT_S apart).
    cut = PowerCut(at_time=out_of_band_time(clean) + 0.5, off_for_s=MAX_ATTEMPTS * 150.0)
    sim, result, _ = campaign("hcalcs-opt1", image=image, power_cuts=(cut,))
    assert result.gb["commands"][0]["gave_up"] == f"no response after {MAX_ATTEMPTS} attempts"
    assert result.outcome == "downloaded"
    assert result.reason == "activate: never processed (the device was off)"
    assert result.activation_response is None
    assert any(e["event"] == "gbcs-lost" for e in result.events)
    assert_old_firmware(sim, result, "hcalcs-opt1")
    assert sim.gb is not None and sim.gb.handler.state.stored_image is not None


def test_cs06_lost_while_the_device_is_off_is_sent_again_and_activates():
    """A command that gets no response is sent again: the device, back on, activates."""
    _, clean, image = campaign("hcalcs-opt1")
    cut = PowerCut(at_time=out_of_band_time(clean) + 0.5, off_for_s=60.0)
    _sim, result, _ = campaign("hcalcs-opt1", image=image, power_cuts=(cut,))
    (command,) = result.gb["commands"]
    assert command["attempts"] == 2 and command["verdict"] == "accepted"
    assert any(e["event"] == "gbcs-lost" for e in result.events)
    assert result.outcome == "activated" and result.running_image == image


@pytest.mark.parametrize("name", DCC_PROFILES)
def test_power_loss_at_random_instants_of_a_campaign(name):
    """Power cut once at a seeded instant anywhere in the campaign (download, verification,
    receipt alert, CS06 or the hub's instruction, countdown), back after a seeded delay. The
    device either ends on the new image, byte for byte, or keeps the old one with its download
    waiting because the command reached it while it was off; the handler and flash always agree
    on what runs, and the running image never changes before activation."""
    _, clean, image = campaign(name)
    rng = random.Random(name)
    for _ in range(25):
        cut = PowerCut(
            at_time=rng.uniform(0, clean.virtual_seconds + 2),
            off_for_s=rng.choice([0.1, 0.5, 2.0, 30.0, 300.0]),
        )
        sim, result, _ = campaign(name, image=image, power_cuts=(cut,))
        assert sim.gb is not None
        running = int.from_bytes(sim.gb.handler.state.running_version, "big")
        assert running == result.final_file_version, cut
        assert not result.running_changed_before_activation, cut
        if result.outcome == "activated":
            assert result.running_image == image, cut
        else:
            assert result.outcome == "downloaded", (cut, result.reason)
            assert result.reason is not None and result.reason.endswith(
                "never processed (the device was off)"
            ), cut
            assert_old_firmware(sim, result, name)
