"""Integrity codes, SE signature structure (T05-T08), GB images and their checks (T41)."""

import hashlib
from pathlib import Path

import pytest

from emulator.errors import ImageFormatError
from emulator.ota.image import (
    TAG_INTEGRITY_CODE,
    build_gb_image,
    build_image,
    parse_image,
    serialize,
)
from emulator.ota.integrity import aes_mmo, gb_sign, gb_signature_valid
from emulator.ota.verify import Status, check_file, se_signature_checks, verify_file
from emulator.testpki import derive_key

TV2 = (Path(__file__).parent.parent / "data" / "tv2-ota-static-sample.ota").read_bytes()
SUPPLIER = derive_key("supplier-a")
ROGUE = derive_key("rogue")
MI = bytes(range(256)) * 40


def gb_image(**kw) -> bytes:
    args = dict(manufacturer_id=0x1234, image_type=0x0301, file_version=0x102, min_hw=1, max_hw=2)
    args.update(kw)
    return build_gb_image(MI, **args)


def test_integrity_code_built_by_hanemu_is_valid():
    data = build_image(b"x" * 1000, manufacturer_id=1, image_type=2, file_version=3, integrity=True)
    ota = parse_image(data)
    element = ota.element(TAG_INTEGRITY_CODE)
    assert element is ota.subelements[-1]
    assert element.data == aes_mmo(data[: element.value_offset])
    report = verify_file(ota)
    assert report.ok and report.status_of("integrity code") is Status.VALID


def test_integrity_code_of_the_other_convention_is_accepted_and_named():
    plain = build_image(b"y" * 100, manufacturer_id=1, image_type=2, file_version=3)
    ota = parse_image(plain)
    header = ota.header
    # Convention (b): AES-MMO over the file up to the start of the integrity element.
    size = header.image_size + 22
    values = {f: getattr(header, f) for f in header.__dataclass_fields__}
    values["image_size"] = size
    bigger = type(header)(**values)
    prefix = serialize(bigger, [*ota.subelements, (3, bytes(16))])[:-22]
    data = serialize(bigger, [*ota.subelements, (3, aes_mmo(prefix))])
    check = verify_file(parse_image(data)).checks[0]
    assert check.status is Status.VALID and "before-element" in check.detail


# Header string, first and last payload byte, and the integrity element's own value.
@pytest.mark.parametrize("flip_at", [20, 62, 661, 670])
def test_t31_flipped_byte_breaks_the_integrity_code(flip_at):
    data = bytearray(
        build_image(b"z" * 600, manufacturer_id=1, image_type=2, file_version=3, integrity=True)
    )
    data[flip_at] ^= 0x01
    report = check_file(bytes(data))
    assert not report.ok
    assert report.reason == "integrity code: integrity code mismatch"


def _se_file(*, signer: bytes, subject: bytes, issuer: bytes = b"TESTSECA", both=False) -> bytes:
    cert = bytes(22) + subject + issuer + bytes(10)
    sig = signer[::-1] + bytes(42)
    tags = [(0x0002, cert)]
    if both:
        tags += [(0x0006, bytes(74)), (0x0005, bytes(80))]
    tags.append((0x0001, sig))
    return build_image(b"fw", manufacturer_id=1, image_type=2, file_version=3, tags=tags)


EUI = bytes.fromhex("000D6F0000198B36")


def test_t05_signer_must_be_the_certificate_subject():
    data = _se_file(signer=bytes.fromhex("000D6F0000000001"), subject=EUI)
    report = check_file(data)
    assert not report.ok and "is not the certificate subject" in report.reason


def test_t06_signer_not_in_allowed_list():
    ota = parse_image(_se_file(signer=EUI, subject=EUI))
    (check,) = se_signature_checks(ota, allowed_signers=frozenset({0x1}))
    assert check.status is Status.INVALID and "not allowed" in check.detail
    (check,) = se_signature_checks(ota, allowed_signers=frozenset({0x000D6F0000198B36}))
    assert check.status is Status.NOT_VERIFIED


def test_t07_double_signed_is_refused():
    report = check_file(_se_file(signer=EUI, subject=EUI, both=True))
    assert not report.ok and "both crypto suites" in report.reason


def test_t08_issuer_must_match_own_issuer():
    ota = parse_image(TV2)
    (check,) = se_signature_checks(ota, expected_issuer=b"PRODCERT")
    assert check.status is Status.INVALID and "issuer" in check.detail
    (check,) = se_signature_checks(ota, expected_issuer=b"TESTSECA")
    assert check.status is Status.NOT_VERIFIED


def test_se_signature_must_be_the_last_element():
    data = build_image(
        b"fw",
        manufacturer_id=1,
        image_type=2,
        file_version=3,
        tags=[(0x0002, bytes(22) + EUI + bytes(18)), (0x0001, EUI[::-1] + bytes(42))],
        integrity=True,
    )
    report = check_file(data)
    assert not report.ok and "not the last element" in report.reason


def test_t41_gb_image_located_hashed_and_signed():
    data = gb_image(supplier_key=SUPPLIER)
    ota = parse_image(data, format="gb", strict=True)
    assert ota.format == "gb" and ota.subelements == ()
    assert ota.header.field_control == 0x0004 and ota.header.header_length == 60
    assert bytes(ota.manufacturer_image) == MI
    assert data[60 + len(MI) : 60 + len(MI) + 2] == b"\x00\x40"
    assert gb_signature_valid(MI, ota.gb.signature, SUPPLIER.public_key())
    # Auto-detection finds the same layout; a tag-walking parser is not used.
    assert parse_image(data).gb == ota.gb
    report = verify_file(
        ota, supplier_public_key=SUPPLIER.public_key(), expected_hash=hashlib.sha256(MI).digest()
    )
    assert report.ok
    assert [c.status for c in report.checks] == [Status.VALID, Status.VALID]


def test_gb_signature_by_another_key_is_invalid():
    ota = parse_image(gb_image(supplier_key=ROGUE))
    report = verify_file(ota, supplier_public_key=SUPPLIER.public_key())
    assert report.reason == "supplier signature: does not verify with the supplier key"


def test_gb_flipped_manufacturer_image_byte_breaks_signature_and_hash():
    data = bytearray(gb_image(supplier_key=SUPPLIER))
    data[60 + 1234] ^= 0x80
    ota = parse_image(bytes(data))
    report = verify_file(
        ota, supplier_public_key=SUPPLIER.public_key(), expected_hash=hashlib.sha256(MI).digest()
    )
    assert [c.status for c in report.checks] == [Status.INVALID, Status.INVALID]
    assert report.reason.startswith("supplier signature")


def test_gb_without_key_is_not_verified_never_valid():
    report = check_file(gb_image(supplier_key=SUPPLIER))
    assert report.ok
    assert report.status_of("supplier signature") is Status.NOT_VERIFIED


def test_gb_ppmid_form_has_no_signature():
    ota = parse_image(gb_image(), format="gb")
    assert ota.gb.signature is None and bytes(ota.manufacturer_image) == MI
    assert "PPMID" in ota.warnings[0]
    assert check_file(bytes(ota.data)).status_of("supplier signature") is Status.ABSENT


def test_gb_signature_primitives_are_deterministic():
    assert gb_sign(MI, SUPPLIER) == gb_sign(MI, SUPPLIER)
    assert not gb_signature_valid(MI, gb_sign(MI, SUPPLIER)[:-1], SUPPLIER.public_key())


def test_zigbee_format_refuses_a_gb_body_with_an_offset():
    with pytest.raises(ImageFormatError) as err:
        parse_image(gb_image(supplier_key=SUPPLIER), format="zigbee")
    assert err.value.offset is not None and err.value.offset >= 60


def test_hash_check_on_a_zigbee_file_is_a_failure_not_a_pass():
    data = build_image(b"a", manufacturer_id=1, image_type=2, file_version=3)
    report = check_file(data, expected_hash=bytes(32))
    assert not report.ok and "not a GB image" in report.reason
