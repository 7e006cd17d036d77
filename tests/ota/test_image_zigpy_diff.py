"""Differential test: zigpy's own parser is the oracle for every header variant and tag mix."""

from hypothesis import given
from zigpy.ota.image import OTAImage, parse_ota_image

from emulator.ota.image import parse_image, serialize
from emulator.testing.strategies import ota_files

HEADER_FIELDS = [
    "upgrade_file_id",
    "header_version",
    "header_length",
    "field_control",
    "manufacturer_id",
    "image_type",
    "file_version",
    "stack_version",
    "image_size",
    "security_credential_version",
    "minimum_hardware_version",
    "maximum_hardware_version",
]


@given(ota_files())
def test_zigpy_and_hanemu_agree_on_every_field(data):
    theirs, rest = parse_ota_image(data)
    ours = parse_image(data, format="zigbee", strict=True)
    assert rest == b""
    assert isinstance(theirs, OTAImage)
    for name in HEADER_FIELDS:
        value = getattr(theirs.header, name)
        assert getattr(ours.header, name) == (None if value is None else int(value)), name
    assert ours.header.header_string == bytes(theirs.header.header_string)
    dest = theirs.header.upgrade_file_destination
    assert ours.header.upgrade_file_destination == (
        None if dest is None else int.from_bytes(bytes(dest), "little")
    )
    assert [(e.tag, e.data) for e in ours.subelements] == [
        (int(e.tag_id), bytes(e.data)) for e in theirs.subelements
    ]
    # Building from hanemu's model reproduces the bytes, and so does zigpy's serializer.
    assert serialize(ours.header, ours.subelements) == data
    assert theirs.serialize() == data
