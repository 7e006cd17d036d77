"""Wi-Fi update manifests: the document an update server publishes for one device, its
signature, and the device's one verdict on a manifest and the image it names.

A manifest says which device it is for (device type, manufacturer id, image type), which file
version it offers, where the image is (URL), its size and SHA-256, and who signed it. Its bytes
are canonical JSON (keys sorted, no spaces, ASCII), and the signature (ECDSA P-256 over SHA-256,
deterministic, raw r‖s in hex) covers the canonical JSON of every other field, so a signature
made here verifies on the bytes any server serves.

`decode` reads untrusted bytes strictly: at most `MAX_MANIFEST_BYTES`, UTF-8, one JSON object with
exactly `FIELDS`, each of its type and range; anything else is a `ManifestError` naming the
field. `check` is the one place a device decides: it refuses what it cannot verify (no
signature, a signer it does not trust, a signature that does not verify, another device's image,
a version not above the running one, an image larger than its storage, bytes whose size or
SHA-256 differ from the manifest's, an image whose OTA header contradicts it) and returns a
`Verdict` whose `kind` is one of `REFUSALS`, or None when everything verified.

This module is pure: it never does I/O, never touches asyncio or a clock, and never decides what
a device does with a verdict (`emulator.wifi.updater` does).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from emulator.errors import ImageFormatError, ManifestError
from emulator.ota.image import parse_header
from emulator.profiles import DEVICE_TYPES

MAX_MANIFEST_BYTES = 16384
"""A manifest larger than this is refused before it is parsed."""
MAX_IMAGE_BYTES = 16 << 20
"""The largest image a manifest may announce (a home's largest build)."""
MAX_URL_CHARS = 2048
MAX_SIGNER_CHARS = 64
SIGNATURE_OCTETS = 64
"""r‖s of an ECDSA P-256 signature."""
_COORDINATE = 32

FIELDS = (
    "device_type",
    "manufacturer_id",
    "image_type",
    "file_version",
    "url",
    "size",
    "sha256",
    "signer",
    "signature",
)

MALFORMED = "malformed-manifest"
UNSIGNED = "unsigned-manifest"
UNTRUSTED_SIGNER = "untrusted-signer"
BAD_SIGNATURE = "bad-signature"
WRONG_DEVICE = "wrong-device"
DOWNGRADE = "downgrade"
TOO_BIG = "too-big"
SIZE_MISMATCH = "size-mismatch"
TAMPERED = "tampered-image"
INVALID_IMAGE = "invalid-image"

REFUSALS: dict[str, str] = {
    MALFORMED: "the manifest's bytes do not decode",
    UNSIGNED: "the manifest carries no signature",
    UNTRUSTED_SIGNER: "the manifest is signed by someone the device does not trust",
    BAD_SIGNATURE: "the signature does not verify with the named signer's key",
    WRONG_DEVICE: "the manifest or the image is for another device",
    DOWNGRADE: "the file version is not above the one running",
    TOO_BIG: "the image is larger than the device's storage",
    SIZE_MISMATCH: "the image's size differs from the manifest's",
    TAMPERED: "the image's SHA-256 differs from the manifest's",
    INVALID_IMAGE: "the image is no valid OTA file for the device",
}
"""Every kind of refusal, in the order `check` tries them, with what it means."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
_SIGNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an update server says about one image for one device."""

    device_type: str
    manufacturer_id: int
    image_type: int
    file_version: int
    url: str
    size: int
    sha256: bytes
    signer: str | None = None
    """Who signed it (a name in the test PKI: "supplier-a", "manufacturer-1234"), or None."""
    signature: bytes | None = None
    """Raw r‖s, or None: an unsigned manifest."""

    def _fields(self) -> dict[str, Any]:
        return {
            "device_type": self.device_type,
            "manufacturer_id": self.manufacturer_id,
            "image_type": self.image_type,
            "file_version": self.file_version,
            "url": self.url,
            "size": self.size,
            "sha256": self.sha256.hex(),
            "signer": self.signer,
            "signature": None if self.signature is None else self.signature.hex(),
        }

    def signed_bytes(self) -> bytes:
        """What the signature covers: the canonical JSON of every field but `signature`."""
        fields = self._fields()
        del fields["signature"]
        return _canonical(fields)

    def to_bytes(self) -> bytes:
        """The manifest as served: canonical JSON."""
        return _canonical(self._fields())

    def signed(self, signer: str, key: ec.EllipticCurvePrivateKey) -> Manifest:
        """This manifest signed by `signer` with `key` (deterministic ECDSA P-256)."""
        unsigned = replace(self, signer=signer, signature=None)
        der = key.sign(
            unsigned.signed_bytes(), ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
        )
        r, s = decode_dss_signature(der)
        raw = r.to_bytes(_COORDINATE, "big") + s.to_bytes(_COORDINATE, "big")
        return replace(unsigned, signature=raw)

    def signature_valid(self, key: ec.EllipticCurvePublicKey) -> bool:
        """True when the signature is `key`'s over `signed_bytes()`."""
        if self.signature is None or len(self.signature) != SIGNATURE_OCTETS:
            return False
        r = int.from_bytes(self.signature[:_COORDINATE], "big")
        s = int.from_bytes(self.signature[_COORDINATE:], "big")
        try:
            key.verify(encode_dss_signature(r, s), self.signed_bytes(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def _canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# -- decoding untrusted bytes ---------------------------------------------------------------------


def decode(data: bytes) -> Manifest:
    """A manifest from untrusted bytes, or `ManifestError` naming the field (and the offset of a
    JSON syntax error). Linear in the input, which is refused unread above the limit."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"larger than {MAX_MANIFEST_BYTES} bytes ({len(data)})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError("not UTF-8 text", offset=exc.start) from None
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"not JSON: {exc.msg}", offset=exc.pos) from None
    except RecursionError:
        raise ManifestError("not a manifest: nested too deeply") from None
    except ValueError as exc:  # an integer with too many digits, a duplicate key, NaN
        raise ManifestError(f"not a manifest: {exc}") from None
    if not isinstance(value, dict):
        raise ManifestError(f"not a manifest: a JSON {_json_kind(value)}, not an object")
    missing = [f for f in FIELDS if f not in value]
    if missing:
        raise ManifestError("missing", field=missing[0])
    unknown = sorted(k for k in value if k not in FIELDS)
    if unknown:
        raise ManifestError("unknown field", field=_shown(unknown[0]))
    device_type = _text(value, "device_type", 16)
    if device_type not in DEVICE_TYPES:
        raise ManifestError(
            f"must be one of {', '.join(DEVICE_TYPES)}, got {device_type!r}", field="device_type"
        )
    url = _text(value, "url", MAX_URL_CHARS)
    if not url.startswith(("http://", "https://")):
        raise ManifestError("must be an http:// or https:// URL", field="url")
    signer = value["signer"]
    if signer is not None:
        signer = _text(value, "signer", MAX_SIGNER_CHARS)
        if not _SIGNER.fullmatch(signer):
            raise ManifestError("must be a name of letters, digits, '.', '_', '-'", field="signer")
    signature = value["signature"]
    if signature is not None:
        signature = bytes.fromhex(_hex(value, "signature", _HEX128, SIGNATURE_OCTETS))
    return Manifest(
        device_type=device_type,
        manufacturer_id=_integer(value, "manufacturer_id", 0xFFFF),
        image_type=_integer(value, "image_type", 0xFFFF),
        file_version=_integer(value, "file_version", 0xFFFFFFFF),
        url=url,
        size=_integer(value, "size", MAX_IMAGE_BYTES, low=1),
        sha256=bytes.fromhex(_hex(value, "sha256", _HEX64, 32)),
        signer=signer,
        signature=signature,
    )


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise ValueError(f"field {_shown(key)!r} given twice")
        value[key] = item
    return value


def _shown(key: str) -> str:
    """A key from untrusted input as it may be printed: ASCII, at most 64 characters."""
    return key.encode("ascii", "backslashreplace").decode()[:64]


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _text(value: dict[str, Any], name: str, longest: int) -> str:
    item = value[name]
    if not isinstance(item, str):
        raise ManifestError(f"must be a string, got a JSON {_json_kind(item)}", field=name)
    if not 0 < len(item) <= longest:
        raise ManifestError(f"must be 1 to {longest} characters, got {len(item)}", field=name)
    if not _PRINTABLE.fullmatch(item):
        raise ManifestError("must be printable ASCII with no spaces", field=name)
    return item


def _integer(value: dict[str, Any], name: str, high: int, *, low: int = 0) -> int:
    item = value[name]
    if not isinstance(item, int) or isinstance(item, bool):
        raise ManifestError(f"must be an integer, got a JSON {_json_kind(item)}", field=name)
    if not low <= item <= high:
        raise ManifestError(f"must be in {low}..{high}, got {item}", field=name)
    return item


def _hex(value: dict[str, Any], name: str, pattern: re.Pattern[str], octets: int) -> str:
    item = value[name]
    if not isinstance(item, str) or not pattern.fullmatch(item):
        raise ManifestError(f"must be {octets} octets in lower-case hex", field=name)
    return item


# -- the device's verdict -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    """What a device knows of itself when it judges a manifest."""

    device_type: str
    manufacturer_id: int
    image_type: int
    running_version: int
    storage_size: int
    trusted: Mapping[str, ec.EllipticCurvePublicKey]
    """The signers it trusts, by name, with their public keys."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A device's verdict: `kind` None when everything verified, else one of `REFUSALS`."""

    kind: str | None
    reason: str
    manifest: Manifest | None = None

    @property
    def ok(self) -> bool:
        return self.kind is None


def check(data: bytes, device: Recipient, image: bytes | None = None) -> Verdict:
    """The device's verdict on the manifest `data` and, when given, the `image` bytes fetched
    from its URL. Without `image` only the manifest is judged (before the download)."""
    try:
        manifest = decode(data)
    except ManifestError as exc:
        return Verdict(MALFORMED, f"the manifest does not decode: {exc}")
    refusal = _refusal(manifest, device, image)
    if refusal is not None:
        return Verdict(refusal[0], refusal[1], manifest)
    what = "manifest and image" if image is not None else "manifest"
    return Verdict(None, f"{what} verified: signed by {manifest.signer}", manifest)


def _refusal(m: Manifest, device: Recipient, image: bytes | None) -> tuple[str, str] | None:
    if m.signature is None:
        return UNSIGNED, "the manifest carries no signature"
    key = device.trusted.get(m.signer) if m.signer is not None else None
    if key is None:
        trusted = ", ".join(sorted(device.trusted)) or "nobody"
        return (
            UNTRUSTED_SIGNER,
            f"signed by {m.signer or 'no one named'}; the device trusts {trusted}",
        )
    if not m.signature_valid(key):
        return BAD_SIGNATURE, f"the signature does not verify with {m.signer}'s key"
    claimed = (m.device_type, m.manufacturer_id, m.image_type)
    own = (device.device_type, device.manufacturer_id, device.image_type)
    if claimed != own:
        return (
            WRONG_DEVICE,
            f"the manifest is for {_identity(*claimed)}; the device is {_identity(*own)}",
        )
    if m.file_version <= device.running_version:
        return DOWNGRADE, _not_newer(m.file_version, device.running_version)
    if m.size > device.storage_size:
        return TOO_BIG, f"{m.size} bytes announced; the device stores {device.storage_size}"
    if image is None:
        return None
    if len(image) != m.size:
        return SIZE_MISMATCH, f"{len(image)} bytes fetched; the manifest says {m.size}"
    if hashlib.sha256(image).digest() != m.sha256:
        return TAMPERED, "the image's SHA-256 differs from the signed manifest's"
    try:
        header = parse_header(image)
    except ImageFormatError as exc:
        return INVALID_IMAGE, f"the image is no OTA file: {exc}"
    if (header.manufacturer_id, header.image_type) != own[1:]:
        got = _identity(m.device_type, header.manufacturer_id, header.image_type)
        return WRONG_DEVICE, f"the image's header is for {got}; the device is {_identity(*own)}"
    if header.file_version <= device.running_version:
        return DOWNGRADE, _not_newer(header.file_version, device.running_version)
    return None


def _identity(device_type: str, manufacturer_id: int, image_type: int) -> str:
    return f"{device_type} manufacturer 0x{manufacturer_id:04X} image type 0x{image_type:04X}"


def _not_newer(offered: int, running: int) -> str:
    return f"file version 0x{offered:08X} is not above the running 0x{running:08X}"
