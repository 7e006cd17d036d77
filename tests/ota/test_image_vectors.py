"""Spec vectors and the header variants: TV-1, TV-2, AES-MMO Annex C.5, field control (T01-T04)."""

from pathlib import Path

import pytest

from emulator.errors import ImageFormatError
from emulator.ota.image import FieldControl, build_image, header_size, parse_image
from emulator.ota.integrity import aes_mmo
from emulator.ota.verify import Status, check_file

DATA = Path(__file__).parent.parent / "data"
TV1_HEAD = (DATA / "tv1-head.bin").read_bytes()
TV2 = (DATA / "tv2-ota-static-sample.ota").read_bytes()
TV1_TOTAL = 116_478


def tv1_file() -> bytes:
    """TV-1's real first 62 bytes (header and first element head) with a stand-in payload."""
    return TV1_HEAD + bytes(TV1_TOTAL - len(TV1_HEAD))


def test_t01_tv1_header_fields():
    ota = parse_image(tv1_file(), strict=True)
    h = ota.header
    assert (h.upgrade_file_id, h.header_version, h.header_length, h.field_control) == (
        0x0BEEF11E,
        0x0100,
        56,
        0,
    )
    assert (h.manufacturer_id, h.image_type, h.file_version, h.stack_version) == (
        0x1160,
        0x0003,
        0x00000009,
        0x0002,
    )
    assert h.header_text == "EBL ElementClassic_E11GX3"
    assert h.image_size == TV1_TOTAL
    assert [(e.tag, e.offset, e.length) for e in ota.subelements] == [(0x0000, 56, 116_416)]
    # The walk ends exactly at TotalImageSize: 56 + 6 + 116 416.
    last = ota.subelements[-1]
    assert last.value_offset + last.length == h.image_size


def test_t01_tv1_truncated_is_refused_with_offset():
    with pytest.raises(ImageFormatError) as err:
        parse_image(tv1_file()[:-1])
    assert err.value.field == "image_size"
    assert err.value.offset == 52


def test_t02_bad_magic_is_refused():
    data = bytearray(tv1_file())
    data[0] ^= 0xFF
    with pytest.raises(ImageFormatError) as err:
        parse_image(bytes(data))
    assert (err.value.field, err.value.offset) == ("upgrade_file_id", 0)


@pytest.mark.parametrize("field_control", range(8))
def test_t03_field_control_combinations(field_control):
    fc = FieldControl(field_control)
    data = build_image(
        b"payload",
        manufacturer_id=0x1002,
        image_type=0x5678,
        file_version=7,
        security_credential_version=3 if fc & FieldControl.SECURITY_CREDENTIAL_VERSION else None,
        destination=0x000D6F0000198B36 if fc & FieldControl.DEVICE_SPECIFIC_FILE else None,
        min_hw=0x0102 if fc & FieldControl.HARDWARE_VERSIONS else None,
        max_hw=0x0304 if fc & FieldControl.HARDWARE_VERSIONS else None,
    )
    ota = parse_image(data, strict=True)
    h = ota.header
    assert h.field_control == field_control
    assert h.header_length == header_size(field_control) == 56 + len(data[56 : h.header_length])
    # Optional fields sit in order cred(1), destination(8), hw(2+2), right after TotalImageSize.
    offset = 56
    if fc & FieldControl.SECURITY_CREDENTIAL_VERSION:
        assert data[offset] == h.security_credential_version == 3
        offset += 1
    else:
        assert h.security_credential_version is None
    if fc & FieldControl.DEVICE_SPECIFIC_FILE:
        assert int.from_bytes(data[offset : offset + 8], "little") == 0x000D6F0000198B36
        assert h.upgrade_file_destination == 0x000D6F0000198B36
        offset += 8
    if fc & FieldControl.HARDWARE_VERSIONS:
        assert data[offset : offset + 4] == bytes.fromhex("02010403")
        assert (h.minimum_hardware_version, h.maximum_hardware_version) == (0x0102, 0x0304)
        offset += 4
    assert offset == h.header_length
    assert ota.subelements[0].offset == h.header_length
    assert ota.subelements[0].data == b"payload"


def test_t03_header_length_is_honoured_when_larger():
    # A header that claims 4 spare bytes: the first sub-element starts where HeaderLength says.
    data = bytearray(build_image(b"abc", manufacturer_id=1, image_type=2, file_version=3))
    data[56:56] = b"\xee" * 4
    data[6:8] = (60).to_bytes(2, "little")
    data[52:56] = (len(data)).to_bytes(4, "little")
    ota = parse_image(bytes(data))
    assert ota.subelements[0].offset == 60 and ota.subelements[0].data == b"abc"
    assert any("HeaderLength 60" in w for w in ota.warnings)
    with pytest.raises(ImageFormatError) as err:
        parse_image(bytes(data), strict=True)
    assert (err.value.field, err.value.offset) == ("header_length", 6)


AES_MMO_VECTORS = [
    (bytes([0xC0]), "AE3A102A28D43EE0D4A09E22788B206C"),
    (bytes(range(0xC0, 0xD0)), "A7977E88BC0B61E8210827109A228F2D"),
    (bytes(i % 256 for i in range(8191)), "24EC2FE75BBFFCB34789BC0610E7F165"),
    (bytes(i % 256 for i in range(8192)), "DC6B0687F09F8607131C170B3BD31591"),
    (bytes(i % 256 for i in range(8201)), "72C9B15E178AA843E4A16C58E33643A3"),
    (bytes(i % 256 for i in range(8202)), "BC9828D59B2AA323DAF20BE5F2E66511"),
]


@pytest.mark.parametrize(("message", "digest"), AES_MMO_VECTORS, ids=lambda v: str(len(v)))
def test_t04_aes_mmo_annex_c5(message, digest):
    assert aes_mmo(message).hex().upper() == digest


def test_t04_tv2_signed_range_digest():
    assert len(TV2) == 182
    assert aes_mmo(TV2[: 182 - 42]).hex().upper() == "E26A886E8030458DA084586F2DCB08A2"


def test_tv2_structure_and_se_checks():
    ota = parse_image(TV2, strict=True)
    h = ota.header
    assert (h.manufacturer_id, h.image_type, h.file_version, h.image_size) == (
        0x1002,
        0x5678,
        5,
        182,
    )
    assert h.header_text == "The latest and greatest upgrade."
    assert [(e.tag, e.offset, e.length) for e in ota.subelements] == [
        (0xF000, 56, 10),
        (0x0002, 72, 48),
        (0x0001, 126, 50),
    ]
    report = check_file(TV2)
    se = report.checks[-1]
    # Structure is consistent and the digest is the signed range; ECQV is never called valid.
    assert se.status is Status.NOT_VERIFIED
    assert "00:0d:6f:00:00:19:8b:36" in se.detail
    assert "e26a886e8030458da084586f2dcb08a2" in se.detail
    assert report.ok
