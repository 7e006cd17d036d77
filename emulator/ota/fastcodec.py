"""A `struct` codec for the two frames of the download hot path, pinned to zigpy's.

This module owns fast encoding and decoding of the Image Block Request (without a node address)
and the SUCCESS Image Block Response: the frames every block exchange consists of. Anything else,
and any input these functions are not sure about, returns None so `frames` falls back to zigpy's
schemas, which stay the reference: tests check these functions byte-for-byte and field-for-field
against zigpy on random and mutated inputs. It must never accept what zigpy would refuse, never
return something zigpy would decode differently, and never hold protocol decisions.
"""

from __future__ import annotations

import struct
from typing import Any

import zigpy.zcl.foundation as foundation

_SUCCESS = foundation.Status.SUCCESS
_BLOCK = struct.Struct("<BHHIIB")  # field control, mfg, type, version, offset, max data size
_PERIOD = struct.Struct("<H")
_RESPONSE = struct.Struct("<BHHIIB")  # status, mfg, type, version, offset, data size
_BLOCK_FIELDS = (
    "field_control",
    "manufacturer_code",
    "image_type",
    "file_version",
    "file_offset",
    "maximum_data_size",
    "request_node_addr",
    "minimum_block_period",
)
_RESPONSE_FIELDS = (
    "status",
    "manufacturer_code",
    "image_type",
    "file_version",
    "file_offset",
    "image_data",
)
_RESPONSE_ABSENT = ("current_time", "request_time", "minimum_block_period")


class ImageBlockRequest:
    """Decoded Image Block Request; attributes as zigpy's `ImageBlockCommand` names them."""

    __slots__ = _BLOCK_FIELDS

    def __init__(
        self,
        fc: int,
        mfg: int,
        itype: int,
        version: int,
        offset: int,
        size: int,
        period: int | None,
    ) -> None:
        self.field_control = fc
        self.manufacturer_code = mfg
        self.image_type = itype
        self.file_version = version
        self.file_offset = offset
        self.maximum_data_size = size
        self.request_node_addr = None
        self.minimum_block_period = period

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _BLOCK_FIELDS}


class ImageBlockResponse:
    """Decoded SUCCESS Image Block Response; attributes as zigpy's schema names them."""

    __slots__ = (*_RESPONSE_FIELDS, *_RESPONSE_ABSENT)

    def __init__(self, mfg: int, itype: int, version: int, offset: int, data: bytes) -> None:
        self.status = _SUCCESS
        self.manufacturer_code = mfg
        self.image_type = itype
        self.file_version = version
        self.file_offset = offset
        self.image_data = data
        self.current_time = None
        self.request_time = None
        self.minimum_block_period = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (*_RESPONSE_FIELDS, *_RESPONSE_ABSENT)}


def encode_image_block(fields: dict[str, Any]) -> bytes | None:
    """Payload of an Image Block Request, or None to leave it to zigpy."""
    if len(fields) > len(_BLOCK_FIELDS):
        return None
    try:
        return pack_image_block(
            fields["field_control"],
            fields["manufacturer_code"],
            fields["image_type"],
            fields["file_version"],
            fields["file_offset"],
            fields["maximum_data_size"],
            fields.get("minimum_block_period"),
            fields.get("request_node_addr"),
        )
    except KeyError:
        return None


def pack_image_block(
    field_control: int,
    manufacturer_code: int,
    image_type: int,
    file_version: int,
    file_offset: int,
    maximum_data_size: int,
    minimum_block_period: int | None = None,
    request_node_addr: Any = None,
) -> bytes | None:
    """`encode_image_block` with the fields as arguments (the client's hot path)."""
    if request_node_addr is not None:
        return None
    try:
        fc = int(field_control)
        head = _BLOCK.pack(
            fc, manufacturer_code, image_type, file_version, file_offset, maximum_data_size
        )
    except (TypeError, ValueError, struct.error):
        return None
    if fc == 0 and minimum_block_period is None:
        return head
    if fc == 2 and minimum_block_period is not None:
        try:
            return head + _PERIOD.pack(minimum_block_period)
        except struct.error:
            return None
    return None


def encode_image_block_response(fields: dict[str, Any]) -> bytes | None:
    """Payload of a SUCCESS Image Block Response, or None to leave it to zigpy."""
    if fields.get("status") != _SUCCESS or any(fields.get(k) is not None for k in _RESPONSE_ABSENT):
        return None
    try:
        return pack_image_block_response(
            fields["manufacturer_code"],
            fields["image_type"],
            fields["file_version"],
            fields["file_offset"],
            fields.get("image_data"),
        )
    except KeyError:
        return None


def pack_image_block_response(
    manufacturer_code: int, image_type: int, file_version: int, file_offset: int, image_data: Any
) -> bytes | None:
    """`encode_image_block_response` (status SUCCESS) with the fields as arguments (the
    server's hot path)."""
    if type(image_data) is not bytes or len(image_data) > 255:
        return None
    try:
        return (
            _RESPONSE.pack(
                0, manufacturer_code, image_type, file_version, file_offset, len(image_data)
            )
            + image_data
        )
    except (TypeError, struct.error):
        return None


def decode_image_block(payload: bytes, start: int = 0) -> ImageBlockRequest | None:
    """An Image Block Request without node address (its payload from `start` on), or None to
    leave it to zigpy."""
    n = len(payload) - start
    if n < 14:
        return None
    fc, mfg, itype, version, offset, size = _BLOCK.unpack_from(payload, start)
    if fc == 0:
        return ImageBlockRequest(fc, mfg, itype, version, offset, size, None)
    if fc == 2 and n >= 16:
        (period,) = _PERIOD.unpack_from(payload, start + 14)
        return ImageBlockRequest(fc, mfg, itype, version, offset, size, period)
    return None


def decode_image_block_response(payload: bytes, start: int = 0) -> ImageBlockResponse | None:
    """A SUCCESS Image Block Response (its payload from `start` on), or None to leave it to
    zigpy."""
    if len(payload) - start < 14 or payload[start] != 0:
        return None
    _status, mfg, itype, version, offset, size = _RESPONSE.unpack_from(payload, start)
    data_start = start + 14
    if data_start + size > len(payload):
        return None
    return ImageBlockResponse(
        mfg, itype, version, offset, bytes(payload[data_start : data_start + size])
    )
