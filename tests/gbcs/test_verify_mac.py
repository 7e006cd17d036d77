"""The MAC hanemu puts on and checks in a message, against the §4.6 text written out here.

shared/spec/gb-firmware.md §4.6: key = SP800-56A single-step KDF (SHA-256) over the ECDH shared
secret with otherInfo `60 85 74 06 08 03 00 ‖ originatorId ‖ 09 ‖ transactionId ‖ recipientId`;
IV = originatorId ‖ 4 zero octets; AAD = `11 00 00 00 00 00 ‖ general-signing APDU`; 12 octets
of AES-128-GMAC. Nothing below uses emulator.gbcs.security: the bytes are cut out of the wire
message by hand, so a derivation that drops the `09` (as hanemu's once did) fails here, and
`hanemu gbcs verify` reports a MAC made that way invalid.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emulator.cli import cli
from emulator.gbcs.headend import TEST_ENTITY_IDS, HeadEnd, RemoteParty
from emulator.testpki import derive_key, write_key_pair

DEVICE_ID = bytes.fromhex("00DB1234567890A4")
IMAGE_HASH = hashlib.sha256(b"manufacturer image").digest()


def parts(wire: bytes) -> tuple[bytes, bytes, bytes]:
    """(general-signing APDU, its originator id, its MAC) cut out of a general-ciphering message:
    `DD 000000000000 | length (DER: 1 octet, or 81/82 and 1/2 octets) | 11 00000000 | DF ... |
    MAC (12)`."""
    assert wire[:7] == bytes.fromhex("DD000000000000")
    header_at = 8 if wire[7] < 0x80 else 8 + (wire[7] & 0x7F)
    assert int.from_bytes(wire[8:header_at] or wire[7:8], "big") == len(wire) - header_at
    assert wire[header_at : header_at + 5] == bytes.fromhex("1100000000")
    signing = wire[header_at + 5 : -12]
    assert signing[0] == 0xDF and signing[1] == 0x09
    return signing, signing[12:20], wire[-12:]


def spec_mac(
    wire: bytes,
    own: ec.EllipticCurvePrivateKey,
    peer: ec.EllipticCurvePublicKey,
    *,
    length_octet: bool = True,
) -> bytes:
    signing, originator, _ = parts(wire)
    transaction_id = signing[2:11]  # CRA flag and 8-octet originator counter
    recipient = signing[21:29]
    shared = own.exchange(ec.ECDH(), peer)
    other_info = bytes.fromhex("60857406080300") + originator
    other_info += (b"\x09" if length_octet else b"") + transaction_id + recipient
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"\x00\x00\x00\x01" + shared + other_info)  # one round: 16 of 32 octets
    key = digest.finalize()[:16]
    aad = bytes.fromhex("110000000000") + signing
    return AESGCM(key).encrypt(originator + bytes(4), b"", aad)[:12]


def commands() -> dict[str, bytes]:
    headend = HeadEnd(derive_key("acb"))
    party = RemoteParty(TEST_ENTITY_IDS["supplier-a"], derive_key("supplier-a"))
    device = derive_key("dev-ka").public_key()
    return {
        "cs06": headend.activate_firmware(party, DEVICE_ID, device, IMAGE_HASH),
        "cs06 future-dated": headend.activate_firmware(
            party,
            DEVICE_ID,
            device,
            IMAGE_HASH,
            execution_time=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        ),
        "cs06 non-critical": headend.activate_firmware(
            party, DEVICE_ID, device, IMAGE_HASH, critical=False
        ),
        "cs08": headend.read_firmware_version(party, DEVICE_ID, device),
    }


@pytest.mark.parametrize("name", list(commands()))
def test_the_head_end_mac_is_the_one_section_4_6_describes(name):
    wire = commands()[name]
    expected = spec_mac(wire, derive_key("acb"), derive_key("dev-ka").public_key())
    assert parts(wire)[2] == expected
    # the device computes the same key from its side
    assert spec_mac(wire, derive_key("dev-ka"), derive_key("acb").public_key()) == expected
    # and the derivation without the transaction id's length octet gives another MAC
    old = spec_mac(wire, derive_key("acb"), derive_key("dev-ka").public_key(), length_octet=False)
    assert old != expected


def test_verify_refuses_a_mac_made_without_the_length_octet(tmp_path):
    wire = commands()["cs06"]
    old = spec_mac(wire, derive_key("acb"), derive_key("dev-ka").public_key(), length_octet=False)
    acb_key, _ = write_key_pair(tmp_path, "acb")
    _, device_cert = write_key_pair(tmp_path, "dev-ka")
    options = ["--ka-key", str(acb_key), "--peer-cert", str(device_cert)]
    runner = CliRunner()
    good = runner.invoke(cli, ["gbcs", "verify", wire.hex(), *options])
    assert good.exit_code == 0 and "mac: valid" in good.stdout
    bad = runner.invoke(cli, ["gbcs", "verify", (wire[:-12] + old).hex(), *options])
    assert bad.exit_code == 1 and "mac: invalid" in bad.stdout
