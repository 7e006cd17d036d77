"""Integrity and signature primitives for OTA files, as pure functions over bytes.

Owns: the Zigbee AES-MMO hash (ZigBee spec Annex B.6), the Image Integrity Code (tag 0x0003) in
both coverage conventions seen in real files, the GB Manufacturer Image Hash (SHA-256) and the GB
supplier signature (ECDSA P-256 / SHA-256, raw r||s). Never parses files (image.py does) and never
touches I/O.
"""

from __future__ import annotations

import enum
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

AES_BLOCK = 16
INTEGRITY_CODE_LENGTH = 16
GB_SIGNATURE_LENGTH = 64
_P256_COORDINATE = 32
# Messages shorter than this many bytes carry a 16-bit bit-length in their padding (Annex B.6).
_SHORT_MESSAGE_LIMIT = 8192


def _mmo_padding(length: int) -> bytes:
    bits = length * 8
    if length < _SHORT_MESSAGE_LIMIT:
        zeros = (14 - (length + 1)) % AES_BLOCK
        return b"\x80" + bytes(zeros) + bits.to_bytes(2, "big")
    zeros = (10 - (length + 1)) % AES_BLOCK
    return b"\x80" + bytes(zeros) + bits.to_bytes(4, "big") + b"\x00\x00"


def aes_mmo(data: bytes | memoryview) -> bytes:
    """The 16-byte Matyas-Meyer-Oseas hash of `data` over AES-128 (ZigBee Annex B.6).

    H0 = 0; Hj = AES(key=Hj-1, Mj) XOR Mj over the padded message. Cost is one AES block per
    16 input bytes; `data` is read through a memoryview, never copied as a whole.
    """
    view = memoryview(data)
    full = len(view) - len(view) % AES_BLOCK
    digest = bytes(AES_BLOCK)
    for start in range(0, full, AES_BLOCK):
        digest = _mmo_step(digest, view[start : start + AES_BLOCK])
    tail = bytes(view[full:]) + _mmo_padding(len(view))
    for start in range(0, len(tail), AES_BLOCK):
        digest = _mmo_step(digest, tail[start : start + AES_BLOCK])
    return digest


_ECB = modes.ECB()  # holds no state: one object serves every step


def _mmo_step(key: bytes, block: bytes | memoryview) -> bytes:
    encrypted = Cipher(algorithms.AES(key), _ECB).encryptor().update(block)
    return (int.from_bytes(encrypted, "big") ^ int.from_bytes(block, "big")).to_bytes(
        AES_BLOCK, "big"
    )


class IntegrityConvention(enum.Enum):
    """Which bytes an Image Integrity Code covers (both are used by real vendors)."""

    #: file[0 : start of the 16-byte value]: the element's tag and length included (e.g. NodOn).
    THROUGH_ELEMENT_HEADER = "through-element-header"
    #: file[0 : start of the integrity element]: tag and length excluded (e.g. Ubisys, Innr).
    BEFORE_ELEMENT = "before-element"


# Size of a sub-element's tag (2) and length (4) fields.
SUBELEMENT_HEADER_LENGTH = 6


def integrity_code(file: bytes | memoryview, element_offset: int) -> bytes:
    """The integrity code hanemu writes: AES-MMO over the file up to the 16-byte value.

    `element_offset` is where the integrity sub-element (tag 0x0003) starts in `file`.
    """
    return aes_mmo(memoryview(file)[: element_offset + SUBELEMENT_HEADER_LENGTH])


def match_integrity_code(
    file: bytes | memoryview, element_offset: int, code: bytes
) -> IntegrityConvention | None:
    """The convention under which `code` is the file's integrity code, or None if neither."""
    view = memoryview(file)
    if aes_mmo(view[: element_offset + SUBELEMENT_HEADER_LENGTH]) == code:
        return IntegrityConvention.THROUGH_ELEMENT_HEADER
    if aes_mmo(view[:element_offset]) == code:
        return IntegrityConvention.BEFORE_ELEMENT
    return None


def manufacturer_image_hash(manufacturer_image: bytes | memoryview) -> bytes:
    """GB Manufacturer Image Hash: SHA-256 of the Manufacturer Image alone (32 bytes)."""
    return hashlib.sha256(manufacturer_image).digest()


def gb_sign(manufacturer_image: bytes | memoryview, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 64-byte supplier signature r||s over the Manufacturer Image (deterministic ECDSA)."""
    der = key.sign(bytes(manufacturer_image), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(_P256_COORDINATE, "big") + s.to_bytes(_P256_COORDINATE, "big")


def gb_signature_valid(
    manufacturer_image: bytes | memoryview, signature: bytes, key: ec.EllipticCurvePublicKey
) -> bool:
    """True when `signature` (64-byte r||s) is the key's ECDSA P-256/SHA-256 signature."""
    if len(signature) != GB_SIGNATURE_LENGTH:
        return False
    r = int.from_bytes(signature[:_P256_COORDINATE], "big")
    s = int.from_bytes(signature[_P256_COORDINATE:], "big")
    try:
        key.verify(encode_dss_signature(r, s), bytes(manufacturer_image), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
