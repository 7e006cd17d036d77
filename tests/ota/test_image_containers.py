"""Vendor containers and variants: IKEA NGIS, Legrand, Third Reality, Hue SBL, Telink, nesting."""

import pytest
from hypothesis import given
from zigpy.ota.image import HueSBLOTAImage, TelinkOTAImage, parse_ota_image

from emulator.errors import ImageFormatError
from emulator.ota.image import HUE_MANUFACTURER_ID, HUE_SBL_MAGIC, build_image, parse_image
from emulator.testing.strategies import (
    WRAPPERS,
    wrap_ikea,
    wrap_legrand,
    wrap_third_reality,
    wrapped_files,
)

INNER = build_image(b"firmware", manufacturer_id=0x117C, image_type=0x2101, file_version=0x23)


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_container_is_recognised_and_unwrapped(name):
    wrapped = WRAPPERS[name](INNER)
    ota = parse_image(wrapped)
    assert ota.format == name
    assert ota.containers == (name,)
    assert ota.data == INNER
    assert wrapped[ota.container_offset : ota.container_offset + len(INNER)] == INNER
    # zigpy unwraps the same container to the same image.
    theirs, _ = parse_ota_image(wrapped)
    assert theirs.header.file_version == ota.header.file_version == 0x23


def test_ikea_container_with_image_at_a_later_offset():
    ota = parse_image(wrap_ikea(INNER, offset=64))
    assert ota.container_offset == 64 and ota.data == INNER


def test_ikea_container_pointing_past_its_end_is_refused():
    data = bytearray(wrap_ikea(INNER))
    data[20:24] = (len(data)).to_bytes(4, "little")
    with pytest.raises(ImageFormatError) as err:
        parse_image(bytes(data))
    assert (err.value.field, err.value.offset) == ("ngis.image_length", 20)


def test_errors_inside_a_container_name_the_offset_in_the_outer_file():
    bad = bytearray(INNER)
    bad[56 + 2 : 56 + 6] = (10_000).to_bytes(4, "little")  # bogus sub-element length
    with pytest.raises(ImageFormatError) as err:
        parse_image(wrap_legrand(bytes(bad)))
    assert err.value.field == "subelement.length"
    assert err.value.offset == 4 + 56 + 2


@given(wrapped_files())
def test_nested_containers_unwrap_to_the_same_image(case):
    data, names = case
    ota = parse_image(data)
    assert ota.containers == names
    assert ota.format == (names[0] if names else "zigbee")


def test_third_reality_hash_must_match():
    data = bytearray(wrap_third_reality(INNER))
    data[0] ^= 1
    with pytest.raises(ImageFormatError):
        parse_image(bytes(data))


def test_hue_sbl_body_is_opaque():
    body = HUE_SBL_MAGIC + b"\x99" * 40
    header = build_image(b"", manufacturer_id=HUE_MANUFACTURER_ID, image_type=1, file_version=2)
    data = bytearray(header[:56]) + body
    data[52:56] = len(data).to_bytes(4, "little")
    ota = parse_image(bytes(data))
    assert ota.format == "hue-sbl" and ota.subelements == ()
    theirs, _ = parse_ota_image(bytes(data))
    assert isinstance(theirs, HueSBLOTAImage)


def test_telink_aes_element_with_tag_info():
    head = build_image(b"", manufacturer_id=0x1141, image_type=0xD3A3, file_version=0x11)[:56]
    element = (0xF000).to_bytes(2, "little") + (5).to_bytes(4, "little") + b"\x34\x12" + b"ABCDE"
    data = bytearray(head) + element
    data[52:56] = len(data).to_bytes(4, "little")
    ota = parse_image(bytes(data))
    assert ota.format == "telink"
    (aes,) = ota.subelements
    assert (aes.tag, aes.tag_info, aes.data, aes.value_offset) == (0xF000, 0x1234, b"ABCDE", 64)
    theirs, _ = parse_ota_image(bytes(data))
    assert isinstance(theirs, TelinkOTAImage)
    assert theirs.subelements[0].tag_info == aes.tag_info
