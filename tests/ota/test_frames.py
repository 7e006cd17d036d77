"""OTA frames: real ZCL bytes, differential against zigpy's own ZCLHeader and Ota schemas."""

from __future__ import annotations

import pytest
import zigpy.zcl.foundation as foundation
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import FrameError
from emulator.ota import frames
from emulator.ota.frames import Status


def test_digi_image_block_request_bytes():
    data = frames.encode(
        "image_block",
        0x12,
        field_control=0,
        manufacturer_code=0x101E,
        image_type=0,
        file_version=0x0100200A,
        file_offset=0x1234,
        maximum_data_size=0x63,
    )
    assert data == bytes.fromhex("01 12 03 00 1E 10 00 00 0A 20 00 01 34 12 00 00 63")


def test_digi_upgrade_end_response_bytes():
    data = frames.encode(
        "upgrade_end_response",
        0x01,
        disable_default_response=False,
        manufacturer_code=0x101E,
        image_type=0,
        file_version=0x1001,
        current_time=0x21531AF0,
        upgrade_time=0x21531B00,
    )
    assert data == bytes.fromhex("09 01 07 1E 10 00 00 01 10 00 00 F0 1A 53 21 00 1B 53 21")


@given(first=st.integers(0, 255), rest=st.binary(min_size=4, max_size=8))
@settings(max_examples=300)
def test_header_decoding_matches_zigpy(first, rest):
    data = bytes([first]) + rest
    ours, offset = frames.decode_header(data)
    theirs, payload = foundation.ZCLHeader.deserialize(data)
    assert ours.frame_control == theirs.frame_control
    assert (ours.tsn, ours.command_id) == (theirs.tsn, theirs.command_id)
    assert ours.manufacturer == theirs.manufacturer
    assert data[offset:] == payload


@pytest.mark.parametrize("name", sorted(frames.COMMAND_IDS))
@pytest.mark.parametrize("ddr", [False, True])
def test_header_encoding_matches_zigpy(name, ddr):
    direction, cmd = frames._BY_NAME[name]
    ours = frames._header(False, 0xA5, cmd.id, direction, ddr)
    hdr = foundation.ZCLHeader.cluster(0xA5, cmd.id, direction=direction)
    hdr = hdr.replace(frame_control=hdr.frame_control.replace(disable_default_response=ddr))
    assert ours == hdr.serialize()


def test_short_wait_for_data_form_is_accepted():
    frame = frames.decode(bytes.fromhex("19 01 05 97 00000000 0a000000"))
    assert frame.command.status == Status.WAIT_FOR_DATA
    assert (frame.command.request_time, frame.command.minimum_block_period) == (10, None)


@pytest.mark.parametrize(
    ("data", "field", "offset", "status"),
    [
        (b"\x19\x01", "header", 2, Status.MALFORMED_COMMAND),
        (bytes.fromhex("19 01 05 00 3412"), "image_type", 6, Status.MALFORMED_COMMAND),
        (
            bytes.fromhex("19 01 05 00 3412 0101 02000000 00000000 14 0102"),
            "image_data",
            16,
            Status.MALFORMED_COMMAND,
        ),
        (bytes.fromhex("19 01 0A 00"), "command_id", 2, Status.UNSUP_CLUSTER_COMMAND),
        (bytes.fromhex("18 01 00 00"), "command_id", 2, Status.UNSUP_GENERAL_COMMAND),
    ],
)
def test_malformed_frames_name_field_offset_and_status(data, field, offset, status):
    with pytest.raises(FrameError) as info:
        frames.decode(data)
    assert (info.value.field, info.value.offset, info.value.status) == (field, offset, status)


@given(data=st.binary(max_size=40))
@settings(max_examples=500)
def test_any_bytes_decode_or_raise_frame_error(data):
    try:
        frame = frames.decode(data)
    except FrameError:
        return
    assert frame.name in frames.COMMAND_IDS or frame.name == frames.DEFAULT_RESPONSE


def test_every_command_round_trips_through_zigpy():
    samples = {
        "image_notify": {
            "payload_type": 3,
            "query_jitter": 50,
            "manufacturer_code": 1,
            "image_type": 2,
            "new_file_version": 3,
        },
        "query_next_image": {
            "field_control": 1,
            "manufacturer_code": 1,
            "image_type": 2,
            "current_file_version": 3,
            "hardware_version": 4,
        },
        "query_next_image_response": {
            "status": Status.SUCCESS,
            "manufacturer_code": 1,
            "image_type": 2,
            "file_version": 3,
            "image_size": 4,
        },
        "image_block": {
            "field_control": 3,
            "manufacturer_code": 1,
            "image_type": 2,
            "file_version": 3,
            "file_offset": 4,
            "maximum_data_size": 5,
            "request_node_addr": frames.eui64(0x0102030405060708),
            "minimum_block_period": 6,
        },
        "image_page": {
            "field_control": 0,
            "manufacturer_code": 1,
            "image_type": 2,
            "file_version": 3,
            "file_offset": 4,
            "maximum_data_size": 5,
            "page_size": 6,
            "response_spacing": 7,
        },
        "image_block_response": {
            "status": Status.SUCCESS,
            "manufacturer_code": 1,
            "image_type": 2,
            "file_version": 3,
            "file_offset": 4,
            "image_data": b"abc",
        },
        "upgrade_end": {
            "status": Status.SUCCESS,
            "manufacturer_code": 1,
            "image_type": 2,
            "file_version": 3,
        },
        "upgrade_end_response": {
            "manufacturer_code": 1,
            "image_type": 2,
            "file_version": 3,
            "current_time": 4,
            "upgrade_time": 5,
        },
        "query_specific_file": {
            "request_node_addr": frames.eui64(1),
            "manufacturer_code": 1,
            "image_type": 2,
            "file_version": 3,
            "current_zigbee_stack_version": 2,
        },
        "query_specific_file_response": {"status": Status.NO_IMAGE_AVAILABLE},
    }
    assert set(samples) == set(frames.COMMAND_IDS)
    for name, fields in samples.items():
        data = frames.encode(name, 9, **fields)
        frame = frames.decode(data)
        _direction, cmd = frames._BY_NAME[name]
        reference = cmd.schema(**fields).serialize()
        assert data[3:] == reference and frame.name == name and frame.tsn == 9
        assert frame.command.as_dict() == cmd.schema.deserialize(reference)[0].as_dict()
        assert frames.eui64_int(frames.eui64(0x0102030405060708)) == 0x0102030405060708
