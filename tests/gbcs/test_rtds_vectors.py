"""hanemu's GBCS security against the DCC's own test messages (tests/data/rtds, RTDS 4.5.0).

These bytes were made by nobody here, so they check the MAC derivation and the signatures against
the real thing rather than against hanemu's own builder (shared/spec/gb-firmware.md §4.5, §4.6).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from emulator.gbcs.frame import Cra, Frame, decode_frame
from emulator.gbcs.security import derive_mac_key, verify_mac, verify_signature

RTDS = Path(__file__).resolve().parents[1] / "data" / "rtds"
ACB_ID = bytes.fromhex("90B3D51F30000002")
SUPPLIER_ID = bytes.fromhex("90B3D51F30010000")


def message(name: str) -> Frame:
    return decode_frame(bytes.fromhex((RTDS / f"{name}_GBCS.HEX").read_text().strip()))


def public_key(name: str) -> ec.EllipticCurvePublicKey:
    key = x509.load_pem_x509_certificate((RTDS / name).read_bytes()).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def acb_ka_key() -> ec.EllipticCurvePrivateKey:
    key = load_pem_private_key((RTDS / "90b3d51f30000002-ka.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def spec_mac(
    frame: Frame, own: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey
) -> bytes:
    """The MAC written out from the §4.6 text alone, without hanemu's security module."""
    header = frame.header
    shared = own.exchange(ec.ECDH(), peer)
    other_info = (
        bytes.fromhex("60857406080300")
        + header.originator
        + b"\x09"
        + header.transaction_id
        + header.recipient
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update((1).to_bytes(4, "big") + shared + other_info)  # SP800-56A single step
    key = digest.finalize()[:16]
    aad = bytes.fromhex("110000000000") + frame.general_signing()
    return AESGCM(key).encrypt(header.originator + bytes(4), b"", aad)[:12]


MACED = [
    ("CS06_11.3_IMMEDIATE_SUCCESS_COMMAND", "00db1234567890a0-ka.pem"),
    ("CS08_11.2_SUCCESS_COMMAND", "00db1234567890a4-ka.pem"),
    ("CS08_11.2_SUCCESS_RESPONSE", "00db1234567890a4-ka.pem"),
]


@pytest.mark.parametrize(("name", "device_cert"), MACED)
def test_every_dcc_mac_verifies_with_the_transaction_id_length_octet(
    name: str, device_cert: str
) -> None:
    """§4.6: otherInfo = 60 85 74 06 08 03 00 ‖ originatorId ‖ 09 ‖ transactionId ‖ recipientId."""
    frame = message(name)
    key = derive_mac_key(acb_ka_key(), public_key(device_cert), frame.header)
    assert verify_mac(frame, key)
    assert spec_mac(frame, acb_ka_key(), public_key(device_cert)) == frame.mac


@pytest.mark.parametrize(("name", "device_cert"), MACED)
def test_a_flipped_mac_byte_fails(name: str, device_cert: str) -> None:
    frame = message(name)
    assert frame.mac is not None
    bad = Frame(
        frame.header, frame.payload, frame.signature, bytes([frame.mac[0] ^ 1]) + frame.mac[1:]
    )
    assert not verify_mac(bad, derive_mac_key(acb_ka_key(), public_key(device_cert), frame.header))


def test_the_critical_command_carries_the_supplier_signature() -> None:
    frame = message("CS06_11.3_IMMEDIATE_SUCCESS_COMMAND")
    assert frame.header.originator == SUPPLIER_ID
    assert verify_signature(frame, public_key("90b3d51f30010000-ds.pem"))


def test_the_cs06_response_is_dated_and_signed_by_the_device_without_a_mac() -> None:
    frame = message("CS06_11.3_IMMEDIATE_SUCCESS_RESPONSE")
    assert frame.header.cra is Cra.RESPONSE
    assert frame.header.date_time is not None and frame.mac is None
    assert verify_signature(frame, public_key("00db1234567890a0-ds.pem"))


def test_the_future_dated_alert_goes_to_the_supplier_signed_by_the_device() -> None:
    frame = message("CS06_11.3_8F66_FUTURE_DATED_SUCCESS_ALERT")
    assert frame.header.recipient == SUPPLIER_ID and frame.header.cra is Cra.ALERT
    assert verify_signature(frame, public_key("00db1234567890a0-ds.pem"))


def test_cs08_comes_from_the_acb_and_its_response_echoes_the_supplementary_party() -> None:
    command = message("CS08_11.2_SUCCESS_COMMAND")
    response = message("CS08_11.2_SUCCESS_RESPONSE")
    assert command.header.originator == ACB_ID
    assert command.header.other_info_extra[:8] == SUPPLIER_ID
    assert response.header.other_info_extra == command.header.other_info_extra
    assert response.header.counter == command.header.counter
    assert response.header.date_time is None and response.signature is None
