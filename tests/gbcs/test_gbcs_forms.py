"""What hanemu's devices send looks like what real devices send (shared/spec/gb-firmware.md §4.5).

The DCC's test messages (tests/data/rtds, checked in test_rtds_vectors.py) fix the forms:

* a response to a Critical command (CS06) carries a grouping-header date-time and the device's
  digital signature, and no MAC;
* a response to a Non-Critical command (CS08) carries a MAC, echoes the command's
  other-information (the supplementary remote party) and has neither date-time nor signature;
* receipt alerts (8F72 / 8F1C), future-dated alerts (0x00CA) and device alerts go to the
  supplier, CS09 to the ACB; every alert is signed by the device.

Each message here comes from a device built from a shipped profile with its test-PKI keys, and
its signature is checked with the device's certificate.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from emulator.device.gbdevice import activation_config
from emulator.gbcs.activation import (
    ActivationHandler,
    ActivationState,
    Verdict,
    dlms_date_time,
)
from emulator.gbcs.frame import Cra, Frame, decode_frame
from emulator.gbcs.headend import TEST_ENTITY_IDS, HeadEnd, RemoteParty
from emulator.gbcs.messages import (
    ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL,
    ALERT_FIRMWARE_VERSION_CHANGED,
    ALERT_FUTURE_DATED_SUCCESS,
    ALERT_PPMID_FIRMWARE_ACTIVATED,
    ALERT_TRUSTED_SOURCE_AUTHENTICATION_FAILURE,
    MSG_ACTIVATE_FIRMWARE,
    MSG_READ_FIRMWARE_VERSION,
    ActivateFirmwareResponse,
    ReadFirmwareVersionResponse,
    decode_payload,
)
from emulator.gbcs.security import (
    apply_mac,
    derive_mac_key,
    sign_frame,
    verify_mac,
    verify_signature,
)
from emulator.profiles import load_profile
from emulator.testpki import derive_key, self_signed_certificate

NOW = dt.datetime(2026, 3, 1, 12, 30, 5, tzinfo=dt.UTC)
OLD, NEW = bytes.fromhex("00000100"), bytes.fromhex("00000200")
IMAGE = b"manufacturer image " * 8
IEEE = 0x00DB1234567890A4
SUPPLIER = TEST_ENTITY_IDS["supplier-a"]
ACB = TEST_ENTITY_IDS["acb"]


def device(profile_name: str) -> tuple[ActivationHandler, object]:
    """A handler configured as the profile's device, holding IMAGE, and its certificate key."""
    profile = load_profile(profile_name)
    handler = ActivationHandler(activation_config(profile, IEEE), ActivationState(OLD))
    certificate = self_signed_certificate(f"{profile.name}-ds", derive_key(f"{profile.name}-ds"))
    return handler, certificate.public_key()


def supplier() -> RemoteParty:
    return RemoteParty(SUPPLIER, derive_key("supplier-a"))


def stored(handler: ActivationHandler) -> Frame:
    outcome = handler.image_stored(IMAGE, NEW, verified=True, now=NOW)
    (alert,) = outcome.alerts
    return decode_frame(alert)


def assert_alert(frame: Frame, recipient: bytes, code: int, device_key) -> None:
    assert frame.header.cra is Cra.ALERT
    assert frame.header.originator == IEEE.to_bytes(8, "big")
    assert frame.header.recipient == recipient
    assert frame.header.date_time is None and frame.mac is None
    assert verify_signature(frame, device_key)
    body = decode_payload(frame.header.message_code, frame.header.cra, frame.payload)
    assert body.alert_code == code


def test_cs06_response_is_dated_and_signed_by_the_device_and_has_no_mac() -> None:
    handler, device_key = device("hcalcs-opt1")
    assert_alert(stored(handler), SUPPLIER, ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL, device_key)
    command = HeadEnd(derive_key("acb")).activate_firmware(
        supplier(),
        handler.config.device_id,
        handler.config.ka_key.public_key(),
        hashlib.sha256(IMAGE).digest(),
    )
    outcome = handler.handle(command, NOW)
    assert outcome.accepted and outcome.activated_version == NEW

    response = decode_frame(outcome.response)
    assert response.header.cra is Cra.RESPONSE
    assert response.header.message_code == MSG_ACTIVATE_FIRMWARE
    assert response.header.recipient == SUPPLIER
    assert response.header.date_time == dlms_date_time(NOW)
    assert response.mac is None
    assert verify_signature(response, device_key)
    body = ActivateFirmwareResponse.from_der(response.payload)
    assert body.outcome is not None and body.outcome.firmware_version == NEW

    # The switch raises 0x8F43, Change in the executing Firmware version, to the supplier.
    (changed,) = outcome.alerts
    assert_alert(decode_frame(changed), SUPPLIER, ALERT_FIRMWARE_VERSION_CHANGED, device_key)


def test_dlms_date_time_has_the_form_of_the_dcc_vectors() -> None:
    assert dlms_date_time(dt.datetime(2015, 1, 1, tzinfo=dt.UTC)).hex().upper() == (
        "07DF0101FF000000008000FF"
    )


def test_cs08_comes_from_the_acb_and_its_response_is_maced_and_echoes_other_info() -> None:
    handler, _ = device("ppmid-opt1")
    acb_key = derive_key("acb")
    command = decode_frame(
        HeadEnd(acb_key).read_firmware_version(
            supplier(), handler.config.device_id, handler.config.ka_key.public_key()
        )
    )
    assert command.header.originator == ACB
    assert command.header.other_info_extra[:8] == SUPPLIER
    assert len(command.header.other_info_extra) == 16  # supplier id and counter

    outcome = handler.handle(command.encode(), NOW)
    assert outcome.accepted
    response = decode_frame(outcome.response)
    assert response.header.message_code == MSG_READ_FIRMWARE_VERSION
    assert response.header.recipient == ACB
    assert response.header.counter == command.header.counter
    assert response.header.other_info_extra == command.header.other_info_extra
    assert response.header.date_time is None and response.signature is None
    # The head-end (the ACB's key) and the device derive the same MAC key for the response.
    device_public = handler.config.ka_key.public_key()
    assert verify_mac(response, derive_mac_key(acb_key, device_public, response.header))
    assert ReadFirmwareVersionResponse.from_der(response.payload).firmware_version == OLD


def test_future_dated_alert_goes_to_the_supplier_that_sent_the_cs06() -> None:
    handler, device_key = device("ihd-opt1")
    stored(handler)
    when = NOW + dt.timedelta(hours=1)
    command = HeadEnd(derive_key("acb")).activate_firmware(
        supplier(),
        handler.config.device_id,
        handler.config.ka_key.public_key(),
        hashlib.sha256(IMAGE).digest(),
        execution_time=when,
    )
    accepted = decode_frame(handler.handle(command, NOW).response)
    assert accepted.header.date_time == dlms_date_time(NOW)
    assert verify_signature(accepted, device_key)
    fired = handler.tick(when)
    assert fired is not None
    future, changed = (decode_frame(a) for a in fired.alerts)
    assert_alert(future, SUPPLIER, ALERT_FUTURE_DATED_SUCCESS, device_key)
    assert_alert(changed, SUPPLIER, ALERT_FIRMWARE_VERSION_CHANGED, device_key)


def test_cs09_alone_goes_to_the_acb() -> None:
    handler, device_key = device("ppmid-ch-managed")
    assert_alert(stored(handler), SUPPLIER, ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL, device_key)
    outcome = handler.ch_activate(NOW)
    cs09, changed = (decode_frame(a) for a in outcome.alerts)
    assert_alert(cs09, ACB, ALERT_PPMID_FIRMWARE_ACTIVATED, device_key)
    assert_alert(changed, SUPPLIER, ALERT_FIRMWARE_VERSION_CHANGED, device_key)


@pytest.mark.parametrize(
    ("party", "flip_mac", "verdict"),
    [
        (RemoteParty(SUPPLIER, derive_key("supplier-a")), True, Verdict.MAC_INVALID),
        (RemoteParty(SUPPLIER, derive_key("rogue")), False, Verdict.SIGNATURE_INVALID),
    ],
)
def test_a_command_failing_authentication_raises_8f3d(
    party: RemoteParty, flip_mac: bool, verdict: Verdict
) -> None:
    handler, device_key = device("hcalcs-opt1")
    stored(handler)
    raw = bytearray(
        HeadEnd(derive_key("acb")).activate_firmware(
            party,
            handler.config.device_id,
            handler.config.ka_key.public_key(),
            hashlib.sha256(IMAGE).digest(),
        )
    )
    if flip_mac:
        raw[-1] ^= 0x01
    outcome = handler.handle(bytes(raw), NOW)
    assert outcome.verdict is verdict and outcome.response is None
    (alert,) = outcome.alerts
    assert_alert(
        decode_frame(alert), SUPPLIER, ALERT_TRUSTED_SOURCE_AUTHENTICATION_FAILURE, device_key
    )


def test_a_pre_command_signed_and_maced_is_the_command_again() -> None:
    """The DCC turns a pre-command into the command by signing it (the supplier) and MAC'ing
    it (the ACB): hanemu's own CS06, stripped to its pre-command and secured again, is
    byte-identical to what the head-end sent."""
    handler, _ = device("hcalcs-opt1")
    acb_key = derive_key("acb")
    sent = HeadEnd(acb_key).activate_firmware(
        supplier(),
        handler.config.device_id,
        handler.config.ka_key.public_key(),
        hashlib.sha256(IMAGE).digest(),
    )
    pre = decode_frame(decode_frame(sent).to_pre_command().encode())
    assert pre.pre_command and pre.signature is None and pre.mac is None
    signed = sign_frame(pre, derive_key("supplier-a"))
    key = derive_mac_key(acb_key, handler.config.ka_key.public_key(), signed.header)
    assert apply_mac(signed, key).encode() == sent
