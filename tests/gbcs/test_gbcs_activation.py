"""Device-side GBCS activation (conformance rows T42–T47) and the security under it.

Keys come from the throw-away test PKI (`emulator.testpki.derive_key`), the same keys
`scripts/make-keys` writes. Each negative case checks both the verdict and that nothing changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import PolicyError
from emulator.gbcs.activation import (
    ACTIVATION_RULES,
    ActivationConfig,
    ActivationHandler,
    ActivationState,
    SupplierSlot,
    Verdict,
)
from emulator.gbcs.frame import Cra, decode_frame
from emulator.gbcs.headend import TEST_ENTITY_IDS, HeadEnd, RemoteParty
from emulator.gbcs.messages import (
    ALERT_FIRMWARE_VERIFICATION_FAILED,
    ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL,
    ALERT_FIRMWARE_VERSION_CHANGED,
    ALERT_FUTURE_DATED_FAILURE,
    ALERT_FUTURE_DATED_SUCCESS,
    ALERT_PPMID_FIRMWARE_ACTIVATED,
    ALERT_TRUSTED_SOURCE_AUTHENTICATION_FAILURE,
    MSG_FUTURE_DATED_ACTIVATION_ALERT,
    MSG_GENERIC_CRITICAL_ALERT,
    MSG_PPMID_ACTIVATION_ALERT,
    MSG_RECEIPT_ALERT_GBZ,
    ActivateFirmwareResponse,
    ActivateImageResponseCode,
    FutureDatedActivationAlert,
    PpmidActivationAlert,
    ReadFirmwareVersionResponse,
    ReceiptAlert,
)
from emulator.gbcs.security import derive_mac_key, verify_signature
from emulator.testpki import derive_key

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
DEVICE_ID = bytes.fromhex("00DB1234567890A4")
OLD = bytes.fromhex("0123ABCD")
NEW = bytes.fromhex("0123ABCE")
IMAGE = b"\x7f" * 300 + b"manufacturer image"
IMAGE_HASH = hashlib.sha256(IMAGE).digest()

KEYS = {name: derive_key(name) for name in ("supplier-a", "supplier-b", "rogue", "acb", "dev-ka")}
DEVICE_DS = derive_key("dev-ds")
SUPPLIER_A = RemoteParty(TEST_ENTITY_IDS["supplier-a"], KEYS["supplier-a"])
SUPPLIER_B = RemoteParty(TEST_ENTITY_IDS["supplier-b"], KEYS["supplier-b"])
ROGUE = RemoteParty(TEST_ENTITY_IDS["rogue"], KEYS["rogue"])
# The rogue key claiming to be supplier A: a forged signature.
FORGER = RemoteParty(TEST_ENTITY_IDS["supplier-a"], KEYS["rogue"])


def slot(name: str) -> SupplierSlot:
    return SupplierSlot(TEST_ENTITY_IDS[name], KEYS[name].public_key(), name)


def device(activation: str, slots=(), capacity=2, *, image=True) -> ActivationHandler:
    config = ActivationConfig(
        device_id=DEVICE_ID,
        activation=activation,
        ka_key=KEYS["dev-ka"],
        acb_ka_public=KEYS["acb"].public_key(),
        acb_id=TEST_ENTITY_IDS["acb"],
        supplier_id=TEST_ENTITY_IDS["supplier-a"],
        slots=tuple(slot(s) for s in slots),
        slot_capacity=capacity,
        signing_key=DEVICE_DS,
    )
    handler = ActivationHandler(config, ActivationState(OLD))
    if image:
        handler.image_stored(IMAGE, NEW, verified=True, now=NOW)
    return handler


@pytest.fixture
def headend() -> HeadEnd:
    return HeadEnd(KEYS["acb"])


def activate(headend, party=SUPPLIER_A, image_hash=IMAGE_HASH, **kw) -> bytes:
    return headend.activate_firmware(
        party, DEVICE_ID, KEYS["dev-ka"].public_key(), image_hash, **kw
    )


def response_of(outcome) -> ActivateFirmwareResponse:
    frame = decode_frame(outcome.response)
    assert frame.header.cra is Cra.RESPONSE
    assert frame.header.originator == DEVICE_ID
    return ActivateFirmwareResponse.from_der(frame.payload)


AUTHENTICATION_FAILURES = {
    Verdict.MAC_MISSING,
    Verdict.MAC_INVALID,
    Verdict.SIGNATURE_REQUIRED,
    Verdict.SUPPLIER_NOT_IN_SLOT,
    Verdict.SIGNATURE_INVALID,
}


def assert_refused(handler, outcome, verdict):
    """Refused: no response, no switch; an authentication failure raises 0x8F3D (Trusted Source
    Authentication Failure) to the supplier, signed by the device, and nothing else does."""
    assert outcome.verdict is verdict
    assert outcome.response is None and outcome.activated_version is None
    assert handler.state.running_version == OLD
    if verdict not in AUTHENTICATION_FAILURES:
        assert outcome.alerts == ()
        return
    assert outcome.alert_codes == (ALERT_TRUSTED_SOURCE_AUTHENTICATION_FAILURE,)
    frame = decode_frame(outcome.alerts[0])
    assert frame.header.message_code == MSG_GENERIC_CRITICAL_ALERT
    assert frame.header.recipient == TEST_ENTITY_IDS["supplier-a"]
    assert verify_signature(frame, DEVICE_DS.public_key())


# --- T42 / T43: immediate activation


def test_t42_critical_immediate_with_matching_hash(headend):
    handler = device("critical", ["supplier-a"])
    outcome = handler.handle(activate(headend), NOW)
    assert outcome.accepted
    assert outcome.activated_version == NEW
    assert response_of(outcome).outcome.code == ActivateImageResponseCode.SUCCESS
    assert response_of(outcome).outcome.firmware_version == NEW
    assert handler.state.running_version == NEW
    assert handler.state.stored_image is None


def test_t42_response_bytes_match_rtds_success_layout(headend):
    handler = device("critical", ["supplier-a"])
    outcome = handler.handle(activate(headend), NOW)
    assert decode_frame(outcome.response).payload == bytes.fromhex("30 09 02 01 00 04 04 0123ABCE")


def test_t43_hash_mismatch(headend):
    handler = device("critical", ["supplier-a"])
    outcome = handler.handle(activate(headend, image_hash=bytes(32)), NOW)
    assert outcome.accepted  # authenticated; the hash check then fails
    assert response_of(outcome).outcome.code == ActivateImageResponseCode.HASH_MISMATCH
    assert outcome.activated_version is None
    assert handler.state.running_version == OLD
    assert handler.state.stored_image == IMAGE


def test_t43_no_image_held(headend):
    handler = device("critical", ["supplier-a"], image=False)
    outcome = handler.handle(activate(headend), NOW)
    response = response_of(outcome)
    assert response.outcome.code == ActivateImageResponseCode.NO_IMAGE_HELD
    assert response.outcome.firmware_version == OLD
    assert decode_frame(outcome.response).payload == bytes.fromhex("30 09 02 01 01 04 04 0123ABCD")


# --- T45: authentication before the hash


def test_t45_forged_signature_refused_before_hash(headend):
    handler = device("critical", ["supplier-a"], image=False)  # hash check would say noImageHeld
    outcome = handler.handle(activate(headend, FORGER), NOW)
    assert_refused(handler, outcome, Verdict.SIGNATURE_INVALID)


def test_t45_signature_by_supplier_not_in_a_slot(headend):
    handler = device("critical", ["supplier-a"])
    assert_refused(
        handler, handler.handle(activate(headend, SUPPLIER_B), NOW), Verdict.SUPPLIER_NOT_IN_SLOT
    )
    assert_refused(
        handler, handler.handle(activate(headend, ROGUE), NOW), Verdict.SUPPLIER_NOT_IN_SLOT
    )


def test_t45_bad_mac_refused(headend):
    handler = device("critical", ["supplier-a"])
    raw = bytearray(activate(headend))
    raw[-1] ^= 0x01
    assert_refused(handler, handler.handle(bytes(raw), NOW), Verdict.MAC_INVALID)


def test_t45_mac_from_another_key_refused():
    handler = device("critical", ["supplier-a"])
    wrong_acb = HeadEnd(KEYS["rogue"])  # right signature, MAC under the wrong key-agreement key
    assert_refused(handler, handler.handle(activate(wrong_acb), NOW), Verdict.MAC_INVALID)


def test_missing_mac_refused(headend):
    handler = device("critical", ["supplier-a"])
    frame = decode_frame(activate(headend))
    unmaced = replace(frame, mac=None).encode()
    assert_refused(handler, handler.handle(unmaced, NOW), Verdict.MAC_MISSING)


def test_payload_tampering_breaks_the_mac(headend):
    handler = device("critical", ["supplier-a"])
    frame = decode_frame(activate(headend))
    at = frame.payload_offset() + 4  # first hash octet
    raw = bytearray(frame.encode())
    raw[at] ^= 0xFF
    assert_refused(handler, handler.handle(bytes(raw), NOW), Verdict.MAC_INVALID)


def test_replayed_counter_refused(headend):
    handler = device("critical", ["supplier-a"])
    first = activate(headend, image_hash=bytes(32))  # hash mismatch, but the counter is used
    assert handler.handle(first, NOW).accepted
    replay = handler.handle(first, NOW)
    assert replay.verdict is Verdict.REPLAYED_COUNTER
    assert replay.response is None
    older = activate(headend, counter=0)
    assert handler.handle(older, NOW).verdict is Verdict.REPLAYED_COUNTER
    assert handler.state.running_version == OLD
    assert handler.handle(activate(headend), NOW).activated_version == NEW


def test_counters_are_per_originator(headend):
    handler = device("critical", ["supplier-a", "supplier-b"])
    assert handler.handle(activate(headend, SUPPLIER_A, image_hash=bytes(32)), NOW).accepted
    assert handler.handle(activate(headend, SUPPLIER_B, counter=1), NOW).accepted


def test_counter_in_payload_must_match_header(headend):
    handler = device("critical", ["supplier-a"])
    raw = activate(headend, counter=5)
    frame = decode_frame(raw)
    # Rebuild with a header counter of 6 over a payload that says 5, properly signed and MAC'd.
    from emulator.gbcs.security import apply_mac, sign_frame

    header = replace(frame.header, counter=6)
    forged = sign_frame(replace(frame, header=header), KEYS["supplier-a"])
    key = derive_mac_key(KEYS["acb"], KEYS["dev-ka"].public_key(), header)
    outcome = handler.handle(apply_mac(forged, key).encode(), NOW)
    assert_refused(handler, outcome, Verdict.COUNTER_MISMATCH)


def test_non_critical_activate_to_critical_only_device(headend):
    handler = device("critical", ["supplier-a"])
    outcome = handler.handle(activate(headend, critical=False), NOW)
    assert_refused(handler, outcome, Verdict.SIGNATURE_REQUIRED)


def test_non_critical_device_accepts_mac_only(headend):
    handler = device("non-critical", capacity=0)
    outcome = handler.handle(activate(headend, SUPPLIER_B, critical=False), NOW)
    assert outcome.accepted and outcome.activated_version == NEW


def test_non_critical_device_still_needs_a_valid_mac(headend):
    handler = device("non-critical", capacity=0)
    raw = bytearray(activate(headend, critical=False))
    raw[-3] ^= 0x40
    assert_refused(handler, handler.handle(bytes(raw), NOW), Verdict.MAC_INVALID)


def test_dual_supplier_device_accepts_either_slot(headend):
    for party in (SUPPLIER_A, SUPPLIER_B):
        handler = device("critical", ["supplier-a", "supplier-b"])
        assert handler.handle(activate(headend, party), NOW).activated_version == NEW


@pytest.mark.parametrize("activation", ["ch-managed", "display-message", "local-only"])
def test_classes_that_refuse_cs06(headend, activation):
    handler = device(activation, capacity=0)
    outcome = handler.handle(activate(headend), NOW)
    assert_refused(handler, outcome, Verdict.CLASS_REFUSES_CS06)


def test_command_for_another_device_refused(headend):
    handler = device("critical", ["supplier-a"])
    other = headend.activate_firmware(SUPPLIER_A, bytes(8), KEYS["dev-ka"].public_key(), IMAGE_HASH)
    assert_refused(handler, handler.handle(other, NOW), Verdict.NOT_ADDRESSED_TO_DEVICE)


def test_garbage_refused_as_malformed_with_offset():
    handler = device("critical", ["supplier-a"])
    outcome = handler.handle(bytes.fromhex("DF 09 01 00"), NOW)
    assert_refused(handler, outcome, Verdict.MALFORMED)
    assert "offset" in outcome.detail


# --- T44: future-dated activation and cancellation


def test_t44_future_dated_success_raises_8f66(headend):
    handler = device("critical", ["supplier-a"])
    when = NOW + dt.timedelta(days=2)
    command = activate(headend, execution_time=when)
    outcome = handler.handle(command, NOW)
    assert response_of(outcome).outcome is None  # NULL: accepted, nothing executed yet
    assert handler.next_due() == when
    assert handler.tick(when - dt.timedelta(seconds=1)) is None
    assert handler.state.running_version == OLD

    fired = handler.tick(when)
    assert fired.activated_version == NEW
    # 8F66 back to the supplier that sent the CS06, then 8F43 for the new firmware (§4.5).
    assert fired.alert_codes == (ALERT_FUTURE_DATED_SUCCESS, ALERT_FIRMWARE_VERSION_CHANGED)
    frame = decode_frame(fired.alerts[0])
    assert frame.header.message_code == MSG_FUTURE_DATED_ACTIVATION_ALERT
    assert frame.header.cra is Cra.ALERT
    assert frame.header.recipient == TEST_ENTITY_IDS["supplier-a"]
    assert verify_signature(frame, DEVICE_DS.public_key())
    alert = FutureDatedActivationAlert.from_der(frame.payload)
    assert alert.alert_code == ALERT_FUTURE_DATED_SUCCESS
    assert alert.execution_time == when
    assert alert.originator_counter == decode_frame(command).header.counter
    assert alert.outcome.code == ActivateImageResponseCode.SUCCESS
    assert handler.next_due() is None


def test_t44_future_dated_failure_raises_8f67_with_hash_mismatch(headend):
    handler = device("critical", ["supplier-a"])
    when = NOW + dt.timedelta(hours=1)
    handler.handle(activate(headend, image_hash=b"\x01" * 32, execution_time=when), NOW)
    fired = handler.tick(when + dt.timedelta(minutes=5))
    alert = FutureDatedActivationAlert.from_der(decode_frame(fired.alerts[0]).payload)
    assert alert.alert_code == ALERT_FUTURE_DATED_FAILURE
    assert alert.outcome.code == ActivateImageResponseCode.HASH_MISMATCH
    assert fired.activated_version is None
    assert handler.state.running_version == OLD


def test_t44_future_dated_then_cancelled(headend):
    handler = device("critical", ["supplier-a"])
    when = NOW + dt.timedelta(days=1)
    handler.handle(activate(headend, execution_time=when), NOW)
    assert handler.state.pending is not None
    cancel = headend.cancel_activation(
        SUPPLIER_A, DEVICE_ID, KEYS["dev-ka"].public_key(), IMAGE_HASH
    )
    outcome = handler.handle(cancel, NOW + dt.timedelta(hours=1))
    assert outcome.accepted
    assert response_of(outcome).outcome is None
    assert handler.state.pending is None
    assert handler.tick(when + dt.timedelta(days=1)) is None
    assert handler.state.running_version == OLD


def test_cancellation_must_authenticate_too(headend):
    handler = device("critical", ["supplier-a"])
    when = NOW + dt.timedelta(days=1)
    handler.handle(activate(headend, execution_time=when), NOW)
    forged_cancel = headend.cancel_activation(
        FORGER, DEVICE_ID, KEYS["dev-ka"].public_key(), IMAGE_HASH
    )
    assert handler.handle(forged_cancel, NOW).verdict is Verdict.SIGNATURE_INVALID
    assert handler.state.pending is not None


def test_a_new_future_dated_command_replaces_the_pending_one(headend):
    handler = device("critical", ["supplier-a"])
    first, second = NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=3)
    handler.handle(activate(headend, image_hash=bytes(32), execution_time=first), NOW)
    handler.handle(activate(headend, execution_time=second), NOW)
    assert handler.next_due() == second
    assert handler.tick(first) is None
    assert handler.tick(second).activated_version == NEW


def test_past_execution_time_runs_now(headend):
    handler = device("critical", ["supplier-a"])
    outcome = handler.handle(activate(headend, execution_time=NOW - dt.timedelta(days=1)), NOW)
    assert response_of(outcome).outcome.code == ActivateImageResponseCode.SUCCESS


# --- T46 / T47: receipt alert and CH-managed PPMID


def test_t46_receipt_alert_carries_sha256_of_manufacturer_image():
    handler = device("critical", ["supplier-a"], image=False)
    outcome = handler.image_stored(IMAGE, NEW, verified=True, now=NOW)
    frame = decode_frame(outcome.alerts[0])
    assert frame.header.message_code == MSG_RECEIPT_ALERT_GBZ
    alert = ReceiptAlert.from_der(frame.payload)
    assert alert.alert_code == ALERT_FIRMWARE_VERIFICATION_SUCCESSFUL
    assert alert.image_hash == hashlib.sha256(IMAGE).digest()
    assert alert.time == NOW
    assert handler.state.stored_image == IMAGE


def test_t46_failed_verification_raises_8f1c_and_keeps_nothing():
    handler = device("critical", ["supplier-a"], image=False)
    outcome = handler.image_stored(IMAGE, NEW, verified=False, now=NOW)
    alert = ReceiptAlert.from_der(decode_frame(outcome.alerts[0]).payload)
    assert alert.alert_code == ALERT_FIRMWARE_VERIFICATION_FAILED
    assert alert.image_hash == IMAGE_HASH
    assert handler.state.stored_image is None


def test_t47_ch_managed_ppmid_activates_on_ch_instruction_and_raises_cs09():
    handler = device("ch-managed", capacity=0)
    outcome = handler.ch_activate(NOW)
    assert outcome.activated_version == NEW
    frame = decode_frame(outcome.alerts[0])
    assert frame.header.message_code == MSG_PPMID_ACTIVATION_ALERT
    assert frame.header.originator == DEVICE_ID
    assert verify_signature(frame, DEVICE_DS.public_key())  # CS09 is signed by the PPMID
    alert = PpmidActivationAlert.from_der(frame.payload)
    assert alert.alert_code == ALERT_PPMID_FIRMWARE_ACTIVATED
    assert alert.firmware_version == NEW
    assert alert.result == 0


def test_t47_ch_activation_without_image_reports_failure():
    handler = device("ch-managed", capacity=0, image=False)
    outcome = handler.ch_activate(NOW)
    alert = PpmidActivationAlert.from_der(decode_frame(outcome.alerts[0]).payload)
    assert alert.result == 1 and alert.firmware_version == OLD
    assert outcome.activated_version is None


@pytest.mark.parametrize("activation", ["critical", "non-critical", "local-only"])
def test_ch_activation_refused_by_other_classes(activation):
    handler = device(activation, ["supplier-a"] if activation == "critical" else (), 2)
    outcome = handler.ch_activate(NOW)
    assert_refused(handler, outcome, Verdict.CLASS_REFUSES_CH_ACTIVATION)


def test_alert_counters_increase():
    handler = device("ch-managed", capacity=0, image=False)
    first = decode_frame(handler.image_stored(IMAGE, NEW, verified=True, now=NOW).alerts[0])
    second = decode_frame(handler.ch_activate(NOW).alerts[0])
    assert second.header.counter == first.header.counter + 1


# --- CS08


def test_cs08_read_firmware_version(headend):
    handler = device("non-critical", capacity=0)
    raw = headend.read_firmware_version(SUPPLIER_A, DEVICE_ID, KEYS["dev-ka"].public_key())
    outcome = handler.handle(raw, NOW)
    frame = decode_frame(outcome.response)
    assert ReadFirmwareVersionResponse.from_der(frame.payload).firmware_version == OLD


# --- configuration and the log


def test_more_certificates_than_slots_is_an_error():
    with pytest.raises(PolicyError, match="slot"):
        device("critical", ["supplier-a", "supplier-b"], capacity=1)


def test_unknown_activation_class_is_an_error():
    with pytest.raises(PolicyError, match="activation class"):
        device("sometimes")


def test_log_explains_every_decision(headend):
    handler = device("critical", ["supplier-a"])
    handler.handle(activate(headend, SUPPLIER_B), NOW)
    handler.handle(activate(headend), NOW)
    verdicts = [o.verdict for o in handler.log]
    assert verdicts == [Verdict.ACCEPTED, Verdict.SUPPLIER_NOT_IN_SLOT, Verdict.ACCEPTED]
    assert "90B3D51F30020000" in handler.log[1].detail


def test_rules_table_covers_every_class():
    assert set(ACTIVATION_RULES) == {
        "critical",
        "non-critical",
        "ch-managed",
        "display-message",
        "local-only",
    }


# --- security primitives against independent constructions


def test_mac_key_is_sp800_56a_single_step_kdf(headend):
    """gb-firmware.md §4.6: otherInfo carries the transaction id behind its length octet 09."""
    frame = decode_frame(activate(headend))
    header = frame.header
    shared = KEYS["dev-ka"].exchange(ec.ECDH(), KEYS["acb"].public_key())
    other = bytes.fromhex("60857406080300") + header.originator
    other += b"\x09" + bytes((1,)) + header.counter.to_bytes(8, "big") + header.recipient
    expected = hashlib.sha256(b"\x00\x00\x00\x01" + shared + other).digest()[:16]
    assert derive_mac_key(KEYS["dev-ka"], KEYS["acb"].public_key(), header) == expected
    # Both ends derive the same key.
    assert derive_mac_key(KEYS["acb"], KEYS["dev-ka"].public_key(), header) == expected
    iv = header.originator + bytes(4)
    aad = bytes.fromhex("110000000000") + replace(frame, mac=None).general_signing()
    assert frame.mac == AESGCM(expected).encrypt(iv, b"", aad)[:12]


def test_signature_covers_header_without_tag_and_payload(headend):
    frame = decode_frame(activate(headend))
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    raw = frame.encode()
    start = raw.index(b"\xdf") + 1
    signed = raw[start : frame.payload_offset() + len(frame.payload)]
    r = int.from_bytes(frame.signature[:32], "big")
    s = int.from_bytes(frame.signature[32:], "big")
    KEYS["supplier-a"].public_key().verify(
        encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256())
    )


@settings(max_examples=120)
@given(st.data())
def test_any_single_byte_change_to_a_critical_command_is_refused(data):
    handler = device("critical", ["supplier-a"])
    raw = bytearray(activate(HeadEnd(KEYS["acb"])))
    index = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[index] ^= data.draw(st.integers(1, 255), label="xor")
    outcome = handler.handle(bytes(raw), NOW)
    assert not outcome.accepted
    assert outcome.response is None and handler.state.running_version == OLD


def test_signing_is_deterministic():
    a = HeadEnd(KEYS["acb"])
    b = HeadEnd(KEYS["acb"])
    assert activate(a) == activate(b)
