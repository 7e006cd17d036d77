"""What can be checked about an OTA file, and the honest verdict on each check.

Owns: the Image Integrity Code check (either coverage convention, naming which matched), the GB
supplier signature and Manufacturer Image Hash checks, and the structural checks of Smart Energy
crypto-suite 1/2 signatures (ota-cluster.md §3.4). Full ECQV verification of SE signatures is not
implemented and is always reported as "not verified", never as valid.

A check is "valid", "invalid", "not verified" (could be checked with more material, e.g. a key)
or "absent" (nothing to check). A report is ok when no check is invalid. Giving a supplier key
asks for a supplier signature: a file without one (the PPMID form, a plain Zigbee file) is then
invalid, never "absent". `check_file` keeps its verdicts in a bounded, content-addressed cache
(`VerdictCache`: the SHA-256 of the exact bytes plus every parameter the verdict depends on), so a
fleet checks each distinct image once per trust. Pure: no I/O.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.errors import ImageFormatError
from emulator.ota.image import TAG_INTEGRITY_CODE, OtaFile, format_eui64, parse_image
from emulator.ota.integrity import (
    INTEGRITY_CODE_LENGTH,
    aes_mmo,
    gb_signature_valid,
    manufacturer_image_hash,
    match_integrity_code,
)


class Status(enum.Enum):
    VALID = "valid"
    INVALID = "invalid"
    NOT_VERIFIED = "not verified"
    ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str = ""

    def line(self) -> str:
        return f"{self.name}: {self.status.value}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True)
class VerifyReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when no check is invalid ("not verified" and "absent" are not failures)."""
        return all(check.status is not Status.INVALID for check in self.checks)

    @property
    def reason(self) -> str | None:
        """The first failure as one short line, or None when ok."""
        for check in self.checks:
            if check.status is Status.INVALID:
                return f"{check.name}: {check.detail}" if check.detail else check.name
        return None

    def status_of(self, name: str) -> Status:
        return next((c.status for c in self.checks if c.name == name), Status.ABSENT)


@dataclass(frozen=True, slots=True)
class CryptoSuite:
    """Sizes and certificate field offsets of a Smart Energy ECDSA crypto suite."""

    number: int
    signature_tag: int
    certificate_tag: int
    signature_length: int  # signer IEEE (8) + r||s
    certificate_length: int
    subject_offset: int
    issuer_offset: int


SUITES = (
    CryptoSuite(1, 0x0001, 0x0002, 50, 48, subject_offset=22, issuer_offset=30),
    CryptoSuite(2, 0x0005, 0x0006, 80, 74, subject_offset=28, issuer_offset=11),
)
EUI64_LENGTH = 8


def integrity_check(ota: OtaFile) -> Check:
    """The Image Integrity Code (tag 0x0003) check: valid under either convention, or invalid."""
    element = ota.element(TAG_INTEGRITY_CODE)
    if element is None:
        return Check("integrity code", Status.ABSENT)
    if element.length != INTEGRITY_CODE_LENGTH:
        return Check(
            "integrity code",
            Status.INVALID,
            f"element is {element.length} bytes, expected {INTEGRITY_CODE_LENGTH}",
        )
    convention = match_integrity_code(ota.data, element.offset, element.data)
    if convention is None:
        return Check("integrity code", Status.INVALID, "integrity code mismatch")
    return Check("integrity code", Status.VALID, f"AES-MMO, {convention.value}")


def se_signature_checks(
    ota: OtaFile,
    *,
    expected_issuer: bytes | None = None,
    allowed_signers: frozenset[int] = frozenset(),
) -> list[Check]:
    """Structural checks of SE crypto-suite signatures (15-0324-02 §11.7.1 steps 1-5)."""
    present = [s for s in SUITES if ota.element(s.signature_tag) is not None]
    if not present:
        return []
    if len(present) > 1:
        return [Check("SE signature", Status.INVALID, "signed with both crypto suites")]
    suite = present[0]
    name = f"SE signature (suite {suite.number})"
    signature = ota.element(suite.signature_tag)
    certificate = ota.element(suite.certificate_tag)
    if signature.length != suite.signature_length:
        return [
            Check(
                name,
                Status.INVALID,
                f"signature element is {signature.length} bytes, expected {suite.signature_length}",
            )
        ]
    if certificate is None:
        return [Check(name, Status.INVALID, "no signing certificate for this suite")]
    if certificate.length != suite.certificate_length:
        return [
            Check(
                name,
                Status.INVALID,
                f"certificate element is {certificate.length} bytes, "
                f"expected {suite.certificate_length}",
            )
        ]
    if ota.subelements[-1] is not signature:
        return [Check(name, Status.INVALID, "signature element is not the last element")]
    signer = int.from_bytes(signature.data[:EUI64_LENGTH], "little")
    subject = int.from_bytes(
        certificate.data[suite.subject_offset : suite.subject_offset + EUI64_LENGTH], "big"
    )
    issuer = certificate.data[suite.issuer_offset : suite.issuer_offset + EUI64_LENGTH]
    if signer != subject:
        return [
            Check(
                name,
                Status.INVALID,
                f"signer {format_eui64(signer)} is not the certificate "
                f"subject {format_eui64(subject)}",
            )
        ]
    if allowed_signers and signer not in allowed_signers:
        return [Check(name, Status.INVALID, f"signer {format_eui64(signer)} is not allowed")]
    if expected_issuer is not None and issuer != expected_issuer:
        return [
            Check(
                name,
                Status.INVALID,
                f"certificate issuer {issuer.hex()} is not {expected_issuer.hex()}",
            )
        ]
    # The digest an ECDSA verifier would check: everything before the r||s bytes.
    digest = aes_mmo(memoryview(ota.data)[: signature.value_offset + EUI64_LENGTH])
    return [
        Check(
            name,
            Status.NOT_VERIFIED,
            f"structure consistent: signer {format_eui64(signer)}, issuer {issuer.hex()}, "
            f"AES-MMO digest {digest.hex()}; ECQV signature verification is not implemented",
        )
    ]


def gb_checks(
    ota: OtaFile,
    *,
    supplier_public_key: ec.EllipticCurvePublicKey | None = None,
    expected_hash: bytes | None = None,
) -> list[Check]:
    """Supplier signature and Manufacturer Image Hash checks of a GB OTA Upgrade Image."""
    image = ota.manufacturer_image
    checks = []
    if ota.gb.signature is None and supplier_public_key is not None:
        checks.append(
            Check(
                "supplier signature",
                Status.INVALID,
                "absent: a supplier key was given and the image carries no signature",
            )
        )
    elif ota.gb.signature is None:
        checks.append(Check("supplier signature", Status.ABSENT, "PPMID form carries none"))
    elif supplier_public_key is None:
        checks.append(Check("supplier signature", Status.NOT_VERIFIED, "no supplier key given"))
    elif gb_signature_valid(image, ota.gb.signature, supplier_public_key):
        checks.append(Check("supplier signature", Status.VALID, "ECDSA P-256/SHA-256"))
    else:
        checks.append(
            Check("supplier signature", Status.INVALID, "does not verify with the supplier key")
        )
    if expected_hash is not None:
        computed = manufacturer_image_hash(image)
        if computed == expected_hash:
            checks.append(Check("manufacturer image hash", Status.VALID, computed.hex()))
        else:
            checks.append(
                Check(
                    "manufacturer image hash",
                    Status.INVALID,
                    f"computed {computed.hex()}, expected {expected_hash.hex()}",
                )
            )
    return checks


def verify_file(
    ota: OtaFile,
    *,
    supplier_public_key: ec.EllipticCurvePublicKey | None = None,
    expected_hash: bytes | None = None,
    expected_issuer: bytes | None = None,
) -> VerifyReport:
    """Every check that applies to a parsed file."""
    if ota.gb is not None:
        return VerifyReport(
            tuple(
                gb_checks(ota, supplier_public_key=supplier_public_key, expected_hash=expected_hash)
            )
        )
    checks = [integrity_check(ota), *se_signature_checks(ota, expected_issuer=expected_issuer)]
    if supplier_public_key is not None:
        checks.append(
            Check(
                "supplier signature",
                Status.INVALID,
                f"absent: a supplier key was given and a {ota.format} file carries no GB "
                "supplier signature",
            )
        )
    if expected_hash is not None:
        checks.append(
            Check(
                "manufacturer image hash", Status.INVALID, "not a GB image: no Manufacturer Image"
            )
        )
    return VerifyReport(tuple(checks))


def check_file(
    data: bytes,
    *,
    format: str = "auto",
    strict: bool = False,
    supplier_public_key: ec.EllipticCurvePublicKey | None = None,
    expected_hash: bytes | None = None,
    cache: VerdictCache | None = None,
) -> VerifyReport:
    """Parse and verify raw file bytes; a file that cannot be parsed is an invalid report.

    The verdict is looked up in, and kept in, `cache` (default: `VERDICTS`), keyed by the
    SHA-256 of these exact bytes and every other argument, so identical images are checked once
    however many devices download them; see `VerdictCache`."""
    data = bytes(data)  # the bytes hashed are the bytes checked: never a buffer that may change
    cache = VERDICTS if cache is None else cache
    key = verdict_key(
        data,
        format=format,
        strict=strict,
        supplier_public_key=supplier_public_key,
        expected_hash=expected_hash,
    )
    if key is not None:
        report = cache.get(key)
        if report is not None:
            return report
    report = _check_file(
        data,
        format=format,
        strict=strict,
        supplier_public_key=supplier_public_key,
        expected_hash=expected_hash,
    )
    if key is not None:
        cache.put(key, report)
    return report


def _check_file(
    data: bytes,
    *,
    format: str,
    strict: bool,
    supplier_public_key: ec.EllipticCurvePublicKey | None,
    expected_hash: bytes | None,
) -> VerifyReport:
    try:
        ota = parse_image(data, format=format, strict=strict)
    except ImageFormatError as exc:
        return VerifyReport((Check("format", Status.INVALID, str(exc)),))
    return verify_file(ota, supplier_public_key=supplier_public_key, expected_hash=expected_hash)


def verdict_key(
    data: bytes,
    *,
    format: str,
    strict: bool,
    supplier_public_key: Any,
    expected_hash: Any,
) -> tuple[Any, ...] | None:
    """What `check_file`'s verdict on `data` depends on, as a cache key: the SHA-256 and length
    of the exact bytes, the format and strictness they are parsed with, the supplier key (its
    whole SubjectPublicKeyInfo: curve and point) and the expected Manufacturer Image hash. None
    when an argument is not one the key can name exactly (a key object that cannot say its
    bytes, a hash given as anything but bytes): such a check is never cached.

    Every argument of `check_file` but `cache` must be in this key: a parameter added there
    without being added here would let one device's verdict answer another's question."""
    if type(format) is not str or type(strict) is not bool:
        return None
    key_bytes = None
    if supplier_public_key is not None:
        if not isinstance(supplier_public_key, ec.EllipticCurvePublicKey):
            return None
        key_bytes = supplier_public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    if expected_hash is not None and type(expected_hash) is not bytes:
        return None
    return (
        "check_file/1",
        hashlib.sha256(data).digest(),
        len(data),
        format,
        strict,
        key_bytes,
        expected_hash,
    )


class VerdictCache:
    """`check_file` verdicts by `verdict_key`, least recently used dropped past `max_entries`.

    Content-addressed: a key holds the SHA-256 of the exact bytes checked and every parameter
    the verdict depends on, so a device is only ever given the verdict it would have computed
    itself (another trust anchor, hash or format is another key; one byte of difference is
    another digest), and an invalid verdict comes back with its reason. Reports are immutable
    and shared. Safe to use from several threads."""

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("a verdict cache holds at least one entry")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[Any, ...], VerifyReport] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[Any, ...]) -> VerifyReport | None:
        with self._lock:
            report = self._entries.get(key)
            if report is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return report

    def put(self, key: tuple[Any, ...], report: VerifyReport) -> None:
        with self._lock:
            self._entries[key] = report
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


VERDICTS = VerdictCache()
"""The process's verdict cache: every device of a run (and of every run in this process) that
downloads the same bytes and holds the same trust shares one check."""
