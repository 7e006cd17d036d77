"""GBCS message security: the KRP signature and the 12-octet MAC (shared/spec/gb-firmware.md §4.6).

* Signature: ECDSA P-256 / SHA-256 over `groupingHeader[1:] ‖ payload`, carried as `r ‖ s`
  (64 octets). Signing is deterministic (RFC 6979) so runs replay byte for byte.
* MAC key: ECDH between the two parties' key-agreement keys, then the NIST SP800-56A single-step
  KDF over SHA-256 (`ConcatKDFHash`) with otherInfo
  `60 85 74 06 08 03 00 ‖ originatorId ‖ 09 ‖ transactionId ‖ recipientId`, first 16 octets.
  The `09` is the length of the transaction id (CRA flag ‖ originator counter); without it no
  MAC of the DCC's test messages verifies.
* MAC: AES-128-GMAC with IV `originatorId ‖ 00000000` and AAD
  `11 00 00 00 00 00 ‖ general-signing APDU`, truncated to 12 octets.

This module owns cryptographic checks of a `Frame`; it never decides what to do with a failed
check, holds keys beyond a call, or touches files, sockets or time.
"""

from __future__ import annotations

import hmac
from dataclasses import replace

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from emulator.gbcs.frame import MAC_LENGTH, SIGNATURE_LENGTH, Frame, GroupingHeader

KDF_ALGORITHM_ID = bytes.fromhex("60857406080300")
MAC_AAD_PREFIX = bytes.fromhex("110000000000")
MAC_KEY_LENGTH = 16
_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def sign_frame(frame: Frame, key: ec.EllipticCurvePrivateKey) -> Frame:
    """`frame` with its signature set: deterministic ECDSA over the signed data, as r ‖ s
    (a pre-command signed is a command: it gains the signature-length octet and signature)."""
    unsigned = replace(frame, signature=None, mac=None)
    r, s = decode_dss_signature(key.sign(unsigned.signed_data(), _ECDSA))
    half = SIGNATURE_LENGTH // 2
    signature = r.to_bytes(half, "big") + s.to_bytes(half, "big")
    return replace(frame, signature=signature, mac=None, pre_command=False)


def verify_signature(frame: Frame, public_key: ec.EllipticCurvePublicKey) -> bool:
    """True when `frame` carries a signature that `public_key` verifies over its signed data."""
    if frame.signature is None or len(frame.signature) != SIGNATURE_LENGTH:
        return False
    half = SIGNATURE_LENGTH // 2
    r = int.from_bytes(frame.signature[:half], "big")
    s = int.from_bytes(frame.signature[half:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), frame.signed_data(), _ECDSA)
    except InvalidSignature:
        return False
    return True


def derive_mac_key(
    own_key: ec.EllipticCurvePrivateKey,
    peer_key: ec.EllipticCurvePublicKey,
    header: GroupingHeader,
) -> bytes:
    """The 16-octet MAC key shared by the two key-agreement keys for this message."""
    shared = own_key.exchange(ec.ECDH(), peer_key)
    transaction_id = header.transaction_id
    other_info = b"".join(
        (
            KDF_ALGORITHM_ID,
            header.originator,
            bytes((len(transaction_id),)),
            transaction_id,
            header.recipient,
        )
    )
    kdf = ConcatKDFHash(algorithm=hashes.SHA256(), length=MAC_KEY_LENGTH, otherinfo=other_info)
    return kdf.derive(shared)


def compute_mac(frame: Frame, mac_key: bytes) -> bytes:
    """The 12-octet GMAC of `frame` (its MAC field, if any, is ignored)."""
    iv = frame.header.originator + bytes(4)
    aad = MAC_AAD_PREFIX + frame.general_signing()
    return AESGCM(mac_key).encrypt(iv, b"", aad)[:MAC_LENGTH]


def apply_mac(frame: Frame, mac_key: bytes) -> Frame:
    """`frame` with its MAC set (so no longer a pre-command)."""
    frame = replace(frame, pre_command=False)
    return replace(frame, mac=compute_mac(frame, mac_key))


def verify_mac(frame: Frame, mac_key: bytes) -> bool:
    """True when `frame` carries a MAC equal to the one `mac_key` gives."""
    if frame.mac is None:
        return False
    return hmac.compare_digest(frame.mac, compute_mac(frame, mac_key))
