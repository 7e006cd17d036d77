"""Per-profile enforcement at the handler level: each shipped DCC profile's activation class and
supplier slots, fed the same commands, accepts and refuses what the issue and the paper say."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from emulator.device.gbdevice import activation_config
from emulator.gbcs.activation import ActivationHandler, ActivationState, Verdict
from emulator.gbcs.headend import TEST_ENTITY_IDS, HeadEnd, RemoteParty
from emulator.gbcs.messages import ALERT_FIRMWARE_VERSION_CHANGED, ALERT_PPMID_FIRMWARE_ACTIVATED
from emulator.profiles import load_profile
from emulator.testpki import derive_key

NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
DEVICE_ID = bytes.fromhex("00DB1234567890B1")
IMAGE = b"\x42" * 500
NEW = bytes.fromhex("0123ABCE")


def party(name: str) -> RemoteParty:
    return RemoteParty(TEST_ENTITY_IDS[name], derive_key(name))


def handler_for(profile_name: str) -> ActivationHandler:
    """A device built from a shipped profile, its slots filled with suppliers A then B."""
    profile = load_profile(profile_name)
    config = activation_config(profile, int.from_bytes(DEVICE_ID, "big"))
    assert config.device_id == DEVICE_ID
    version = profile.zigbee.firmware_version.to_bytes(4, "big")
    handler = ActivationHandler(config, ActivationState(version))
    handler.image_stored(IMAGE, NEW, verified=True, now=NOW)
    return handler


def command(profile_name: str, sender: str, *, critical: bool) -> bytes:
    headend = HeadEnd(derive_key("acb"))
    ka = derive_key(f"{profile_name}-ka").public_key()
    return headend.activate_firmware(
        party(sender), DEVICE_ID, ka, hashlib.sha256(IMAGE).digest(), critical=critical
    )


# (profile, sender, critical?) -> verdict; ACCEPTED rows also switch the firmware.
MATRIX = [
    ("hcalcs-opt1", "supplier-a", True, Verdict.ACCEPTED),
    ("hcalcs-opt1", "supplier-a", False, Verdict.SIGNATURE_REQUIRED),
    ("hcalcs-opt1", "supplier-b", True, Verdict.SUPPLIER_NOT_IN_SLOT),  # one slot only
    ("ihd-opt1", "supplier-a", True, Verdict.ACCEPTED),
    ("ihd-opt1", "supplier-b", True, Verdict.ACCEPTED),  # dual fuel: second slot
    ("ihd-opt1", "rogue", True, Verdict.SUPPLIER_NOT_IN_SLOT),
    ("ihd-opt1", "supplier-a", False, Verdict.SIGNATURE_REQUIRED),
    ("ppmid-opt2", "supplier-b", True, Verdict.ACCEPTED),
    ("ppmid-opt2", "supplier-b", False, Verdict.SIGNATURE_REQUIRED),
    ("ppmid-opt1", "supplier-a", False, Verdict.ACCEPTED),
    ("ppmid-ch-managed", "supplier-a", True, Verdict.CLASS_REFUSES_CS06),
    ("ppmid-ch-managed", "supplier-a", False, Verdict.CLASS_REFUSES_CS06),
]


@pytest.mark.parametrize(("profile", "sender", "critical", "verdict"), MATRIX)
def test_profile_enforcement(profile, sender, critical, verdict):
    handler = handler_for(profile)
    before = handler.state.running_version
    outcome = handler.handle(command(profile, sender, critical=critical), NOW)
    assert outcome.verdict is verdict, outcome.detail
    expected = NEW if verdict is Verdict.ACCEPTED else before
    assert handler.state.running_version == expected


def test_ch_managed_ppmid_activates_on_the_hubs_instruction():
    handler = handler_for("ppmid-ch-managed")
    outcome = handler.ch_activate(NOW)
    assert outcome.activated_version == NEW
    assert outcome.alert_codes == (ALERT_PPMID_FIRMWARE_ACTIVATED, ALERT_FIRMWARE_VERSION_CHANGED)


@pytest.mark.parametrize("profile", ["ihd-opt1", "ppmid-opt1", "ppmid-opt2", "hcalcs-opt1"])
def test_supplier_activated_profiles_ignore_the_hub(profile):
    assert handler_for(profile).ch_activate(NOW).verdict is Verdict.CLASS_REFUSES_CH_ACTIVATION
