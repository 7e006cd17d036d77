"""The struct hot-path codec agrees with zigpy's schemas byte for byte and field for field."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import FrameError
from emulator.ota import fastcodec, frames
from emulator.ota.frames import Status

u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
_, BLOCK = frames._BY_NAME["image_block"]
_, RESPONSE = frames._BY_NAME["image_block_response"]


def _zigpy_dict(schema, payload: bytes) -> dict:
    return schema.deserialize(payload)[0].as_dict()


@given(mfg=u16, itype=u16, version=u32, offset=u32, size=u8, period=st.none() | u16)
@settings(max_examples=300)
def test_image_block_request_matches_zigpy(mfg, itype, version, offset, size, period):
    fields = {
        "field_control": 0 if period is None else 2,
        "manufacturer_code": mfg,
        "image_type": itype,
        "file_version": version,
        "file_offset": offset,
        "maximum_data_size": size,
        "minimum_block_period": period,
    }
    ours = fastcodec.encode_image_block(fields)
    assert ours == frames.encode_payload("image_block", **fields)
    decoded = fastcodec.decode_image_block(ours)
    assert decoded.as_dict() == _zigpy_dict(BLOCK.schema, ours)
    assert frames.decode(frames.encode("image_block", 1, **fields)).command.as_dict() == (
        decoded.as_dict()
    )


@given(mfg=u16, itype=u16, version=u32, offset=u32, data=st.binary(max_size=255))
@settings(max_examples=300)
def test_image_block_response_matches_zigpy(mfg, itype, version, offset, data):
    fields = {
        "status": Status.SUCCESS,
        "manufacturer_code": mfg,
        "image_type": itype,
        "file_version": version,
        "file_offset": offset,
        "image_data": data,
    }
    ours = fastcodec.encode_image_block_response(fields)
    assert ours == frames.encode_payload("image_block_response", **fields)
    decoded = fastcodec.decode_image_block_response(ours)
    assert decoded.as_dict() == _zigpy_dict(RESPONSE.schema, ours)


@pytest.mark.parametrize("name", ["image_block", "image_block_response"])
@given(payload=st.binary(max_size=40))
@settings(max_examples=500)
def test_fast_decoders_never_disagree_with_zigpy_on_any_bytes(name, payload):
    schema = BLOCK.schema if name == "image_block" else RESPONSE.schema
    fast = (
        fastcodec.decode_image_block
        if name == "image_block"
        else fastcodec.decode_image_block_response
    )(payload)
    try:
        reference = _zigpy_dict(schema, payload)
    except (ValueError, KeyError, TypeError):
        assert fast is None  # never accept what zigpy refuses
        return
    if fast is not None:
        assert fast.as_dict() == reference


@pytest.mark.parametrize(
    "fields",
    [
        {
            "field_control": 1,
            "manufacturer_code": 1,
            "image_type": 2,
            "file_version": 3,
            "file_offset": 4,
            "maximum_data_size": 5,
            "request_node_addr": frames.eui64(7),
        },
        {
            "field_control": 2,
            "manufacturer_code": 1,
            "image_type": 2,
            "file_version": 3,
            "file_offset": 4,
            "maximum_data_size": 5,
        },
        {
            "field_control": 0,
            "manufacturer_code": 0x10000,
            "image_type": 2,
            "file_version": 3,
            "file_offset": 4,
            "maximum_data_size": 5,
        },
    ],
)
def test_forms_the_fast_encoder_is_unsure_of_go_to_zigpy(fields):
    assert fastcodec.encode_image_block(fields) is None
    try:
        reference = frames.encode_payload("image_block", **fields)
    except FrameError:
        with pytest.raises(FrameError):
            frames.encode("image_block", 1, **fields)
        return
    assert frames.encode("image_block", 1, **fields)[3:] == reference


def test_non_success_responses_go_to_zigpy():
    wait = {
        "status": Status.WAIT_FOR_DATA,
        "current_time": 0,
        "request_time": 5,
        "minimum_block_period": 1,
    }
    assert fastcodec.encode_image_block_response(wait) is None
    assert frames.encode("image_block_response", 1, **wait)[3:] == frames.encode_payload(
        "image_block_response", **wait
    )
    assert fastcodec.decode_image_block_response(bytes.fromhex("95")) is None


def _zigpy_frame(name: str, tsn: int, **fields) -> bytes:
    """The whole frame as zigpy builds it: its ZCL header and its command schema."""
    direction, cmd = frames._BY_NAME[name]
    header = frames._zigpy_header(False, cmd.id, direction, direction == frames.S2C)
    header.tsn = tsn
    return header.serialize() + frames.encode_payload(name, **fields)


@given(tsn=u8, mfg=u16, itype=u16, version=u32, offset=u32, size=u8, period=st.none() | u16)
@settings(max_examples=300)
def test_the_clients_block_request_is_zigpys_frame(tsn, mfg, itype, version, offset, size, period):
    fc = 0 if period is None else 2
    ours = frames.encode_image_block(tsn, fc, mfg, itype, version, offset, size, period)
    fields = {
        "field_control": fc,
        "manufacturer_code": mfg,
        "image_type": itype,
        "file_version": version,
        "file_offset": offset,
        "maximum_data_size": size,
        "minimum_block_period": period,
    }
    assert ours == _zigpy_frame("image_block", tsn, **fields)
    assert ours == frames.encode("image_block", tsn, **fields)


@given(tsn=u8, mfg=u16, itype=u16, version=u32, offset=u32, data=st.binary(max_size=255))
@settings(max_examples=300)
def test_the_servers_block_response_is_zigpys_frame(tsn, mfg, itype, version, offset, data):
    ours = frames.encode_image_block_response(tsn, mfg, itype, version, offset, data)
    fields = {
        "status": Status.SUCCESS,
        "manufacturer_code": mfg,
        "image_type": itype,
        "file_version": version,
        "file_offset": offset,
        "image_data": data,
    }
    assert ours == _zigpy_frame("image_block_response", tsn, **fields)


def test_forms_the_positional_encoders_are_unsure_of_go_to_zigpy():
    node = frames.eui64(7)
    ours = frames.encode_image_block(1, 1, 1, 2, 3, 4, 5, None, node)
    assert ours == frames.encode(
        "image_block",
        1,
        field_control=1,
        manufacturer_code=1,
        image_type=2,
        file_version=3,
        file_offset=4,
        maximum_data_size=5,
        request_node_addr=node,
    )
    assert fastcodec.pack_image_block(1, 1, 2, 3, 4, 5, None, node) is None
    assert fastcodec.pack_image_block(0, 0x10000, 2, 3, 4, 5) is None
    assert fastcodec.pack_image_block(0, 1, 2, 3, 4, 5, 7) is None  # a period without its bit
    assert fastcodec.pack_image_block_response(1, 2, 3, 4, bytearray(3)) is None
    assert fastcodec.pack_image_block_response(1, 2, 3, 4, bytes(256)) is None
    with pytest.raises(FrameError):
        frames.encode_image_block_response(1, 1, 2, 3, 4, bytes(256))


@pytest.mark.parametrize("name", ["image_block", "image_block_response"])
@given(prefix=st.binary(max_size=5), payload=st.binary(max_size=40))
@settings(max_examples=300)
def test_fast_decoders_read_a_payload_where_it_starts(name, prefix, payload):
    fast = (
        fastcodec.decode_image_block
        if name == "image_block"
        else fastcodec.decode_image_block_response
    )
    alone = fast(payload)
    inside = fast(prefix + payload, len(prefix))
    assert (alone is None) == (inside is None)
    if alone is not None:
        assert alone.as_dict() == inside.as_dict()


def _decoded(data: bytes):
    try:
        frame = frames.decode(data)
    except FrameError as exc:
        return ("error", str(exc), exc.status, exc.header)
    return (frame.header, frame.name, frame.command.as_dict(), frame.payload_length)


@given(
    first=st.sampled_from([0x01, 0x09, 0x11, 0x19, 0x05, 0x21, 0x15, 0x00]),
    tsn=u8,
    command=st.sampled_from([0x03, 0x05, 0x01, 0x0B]),
    payload=st.binary(max_size=80),
)
@settings(max_examples=600)
def test_a_frame_decodes_the_same_through_its_fast_route_and_the_general_path(
    first, tsn, command, payload
):
    data = bytes((first, tsn, command)) + payload
    general = dict(frames._FAST_ROUTES)
    frames._FAST_ROUTES.clear()
    try:
        reference = _decoded(data)  # the general path (it learns the route, if there is one)
        routed = _decoded(data)  # the fast route, when the general path took one
    finally:
        frames._FAST_ROUTES.update(general)
    assert routed == reference
