"""Strict mode refuses what lenient mode reports: real files are sloppy, hanemu is honest."""

import pytest

from emulator.errors import ImageFormatError
from emulator.ota.image import build_image, parse_image

BASE = build_image(b"firmware", manufacturer_id=1, image_type=2, file_version=3, integrity=True)


def test_trailing_bytes_past_total_image_size():
    data = BASE + b"\xde\xad"
    ota = parse_image(data)
    assert ota.data == BASE
    assert ota.warnings == (
        "TotalImageSize 92 differs from the file length 94 (2 trailing bytes ignored) "
        "(field image_size at offset 52)",
    )
    with pytest.raises(ImageFormatError) as err:
        parse_image(data, strict=True)
    assert (err.value.field, err.value.offset) == ("image_size", 52)


def test_reserved_field_control_bits():
    data = bytearray(BASE)
    data[9] |= 0x80
    assert "reserved field control" in parse_image(bytes(data)).warnings[0]
    with pytest.raises(ImageFormatError) as err:
        parse_image(bytes(data), strict=True)
    assert err.value.field == "field_control"


def test_integrity_code_not_last():
    data = build_image(
        b"fw",
        manufacturer_id=1,
        image_type=2,
        file_version=3,
        tags=[(3, bytes(16)), (0xF001, b"x")],
    )
    assert any("not the last" in w for w in parse_image(data).warnings)
    with pytest.raises(ImageFormatError):
        parse_image(data, strict=True)


def test_header_length_shorter_than_the_header_is_always_refused():
    data = bytearray(BASE)
    data[6:8] = (50).to_bytes(2, "little")
    with pytest.raises(ImageFormatError) as err:
        parse_image(bytes(data))
    assert (err.value.field, err.value.offset) == ("header_length", 6)


@pytest.mark.parametrize("cut", [0, 3, 10, 55])
def test_truncated_header_names_the_field(cut):
    with pytest.raises(ImageFormatError) as err:
        parse_image(BASE[:cut])
    assert err.value.offset is not None and err.value.field is not None
