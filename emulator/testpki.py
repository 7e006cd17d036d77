"""A throw-away, deterministic test PKI: keys and certificates that are never real vendor keys.

Every key is derived from its name and a seed, so two runs with the same seed make byte-identical
keys, certificates and signatures (ECDSA signing here is deterministic, RFC 6979). This module
owns key derivation, PEM loading and writing; it never holds protocol logic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emulator.errors import KeyMaterialError

CURVE = ec.SECP256R1()
# Order of the P-256 group: private scalars are drawn in [1, N - 1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# Fixed validity so certificates are reproducible byte for byte.
_NOT_BEFORE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_NOT_AFTER = dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC)

DEFAULT_SEED = 0

_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----")
_NOT_KEY_MATERIAL = (b"EC PARAMETERS",)
"""PEM blocks that hold no key: `openssl ecparam -genkey` writes one before the key."""
_MOST_BLOCKS = 16
"""More key blocks than this in one file are refused without loading them."""


def derive_key(name: str, seed: int = DEFAULT_SEED) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key named `name` under `seed` (same inputs, same key)."""
    digest = hashlib.sha256(f"hanemu test pki/{seed}/{name}".encode()).digest()
    scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, CURVE)


def self_signed_certificate(name: str, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """A reproducible self-signed X.509 certificate for a test key (marked as a test PKI)."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hanemu TEST PKI - not for production"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    serial = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") | 1
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    )


def write_key_pair(directory: Path, name: str, seed: int = DEFAULT_SEED) -> tuple[Path, Path]:
    """Write `<name>.key.pem` and `<name>.cert.pem` into `directory`; return both paths."""
    key = derive_key(name, seed)
    cert = self_signed_certificate(name, key)
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / f"{name}.key.pem"
    cert_path = directory / f"{name}.cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def load_private_key(pem: bytes, *, source: str = "key") -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM, or `KeyMaterialError` naming `source` (also when the file
    holds two different private keys: which one was meant cannot be known)."""
    blocks = [block for label, block in _key_blocks(pem, source) if b"PRIVATE KEY" in label]
    if len(blocks) <= 1:
        return _load_private_key(pem, source)
    keys = [_load_private_key(block, source) for block in blocks]
    _require_one_key(keys, source, "private keys")
    return keys[0]


def load_public_key(pem: bytes, *, source: str = "key") -> ec.EllipticCurvePublicKey:
    """A P-256 public key from a PEM certificate, public key or private key.

    Whatever the PEM holds, only its public part is returned, so a caller can pass any of the
    three forms a user is likely to have. A file holding several (a key and its certificate)
    is read when they all carry the same public key, and refused when they do not: a check
    must never be made with a key the user did not mean.
    """
    blocks = _key_blocks(pem, source)
    if len(blocks) <= 1:
        return _load_public_key(pem, source)
    keys = [_load_public_key(block, source) for _, block in blocks]
    _require_one_key(keys, source, "keys or certificates")
    return keys[0]


def _key_blocks(pem: bytes, source: str) -> list[tuple[bytes, bytes]]:
    """(label, text from its BEGIN line to the next one) for each PEM block holding a key or
    certificate (EC PARAMETERS blocks are left out); linear in the size of `pem`."""
    starts = [m for m in _PEM_BEGIN.finditer(pem) if m.group(1) not in _NOT_KEY_MATERIAL]
    if len(starts) > _MOST_BLOCKS:
        raise KeyMaterialError(
            f"{source}: holds {len(starts)} PEM blocks; give a file with one key or certificate"
        )
    ends = [m.start() for m in starts[1:]] + [len(pem)] * bool(starts)
    return [(m.group(1), pem[m.start() : end]) for m, end in zip(starts, ends, strict=True)]


def _require_one_key(
    keys: list[ec.EllipticCurvePrivateKey] | list[ec.EllipticCurvePublicKey],
    source: str,
    what: str,
) -> None:
    public = {
        (key if isinstance(key, ec.EllipticCurvePublicKey) else key.public_key()).public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        for key in keys
    }
    if len(public) > 1:
        raise KeyMaterialError(
            f"{source}: holds {len(keys)} {what} with different public keys; "
            "give a file holding only the one meant"
        )


def _load_private_key(pem: bytes, source: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:  # the one TypeError: a password is needed
        raise KeyMaterialError(
            f"{source}: the private key is encrypted (only unencrypted keys can be read)"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _unreadable(source, pem, "a PEM private key", exc) from None
    return _require_p256(key, source)


def _load_public_key(pem: bytes, source: str) -> ec.EllipticCurvePublicKey:
    if b"CERTIFICATE" in pem:
        try:
            key = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError as exc:
            raise _unreadable(source, pem, "a PEM certificate", exc) from None
        return _require_p256(key, source)
    if b"PRIVATE KEY" in pem:
        return _load_private_key(pem, source).public_key()
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _unreadable(source, pem, "a PEM key or certificate", exc) from None
    return _require_p256(key, source)


def _unreadable(source: str, pem: bytes, wanted: str, exc: Exception) -> KeyMaterialError:
    """The error for bytes that are not `wanted`, in plain words: the library's own message
    speaks of ASN.1 tags and parser states, which tell a user nothing."""
    if isinstance(exc, UnsupportedAlgorithm):
        return KeyMaterialError(f"{source}: a key of a kind hanemu cannot use (expected EC P-256)")
    if b"-----BEGIN " not in pem:
        return KeyMaterialError(f"{source}: not {wanted} (no -----BEGIN line: not PEM text)")
    return KeyMaterialError(
        f"{source}: not {wanted} (its PEM block is damaged or holds another kind)"
    )


def _require_p256(key: object, source: str):
    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        raise KeyMaterialError(f"{source}: expected an EC P-256 key, got {type(key).__name__}")
    if not isinstance(key.curve, ec.SECP256R1):
        raise KeyMaterialError(f"{source}: expected curve P-256, got {key.curve.name}")
    return key
