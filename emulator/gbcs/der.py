"""A small, strict DER codec for the few ASN.1 shapes GBCS firmware messages use.

Payloads are declared once as a `Sequence` of `Field`s (INTEGER, OCTET STRING, GeneralizedTime,
each optionally OPTIONAL or of fixed size); the same declaration encodes and decodes. Decoding is
strict DER (minimal lengths, minimal non-negative INTEGERs, `YYYYMMDDHHMMSSZ` times, nothing left
over) and every failure is a `GbcsFormatError` naming the field and the byte offset. This module
owns DER bytes only; it never knows what a message means and never touches keys, files or time.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.errors import GbcsFormatError

TAG_INTEGER = 0x02
TAG_OCTET_STRING = 0x04
TAG_NULL = 0x05
TAG_GENERALIZED_TIME = 0x18
TAG_SEQUENCE = 0x30

NULL = bytes((TAG_NULL, 0x00))
_TIME_LENGTH = 15  # "YYYYMMDDHHMMSSZ"


class Kind(enum.Enum):
    """The ASN.1 types a `Field` may have, with their universal tags."""

    INTEGER = TAG_INTEGER
    OCTET_STRING = TAG_OCTET_STRING
    GENERALIZED_TIME = TAG_GENERALIZED_TIME
    SEQUENCE = TAG_SEQUENCE


@dataclass(frozen=True, slots=True)
class Field:
    """One component of a SEQUENCE.

    `size` fixes an OCTET STRING's length; `maximum` bounds an INTEGER (all GBCS integers used
    here are non-negative); `inner` declares a nested SEQUENCE (its value is a mapping);
    `optional` fields may be absent (value None).
    """

    name: str
    kind: Kind
    size: int | None = None
    maximum: int | None = None
    optional: bool = False
    inner: Sequence | None = None


@dataclass(frozen=True, slots=True)
class Sequence:
    """A SEQUENCE declared as an ordered tuple of fields."""

    name: str
    fields: tuple[Field, ...]

    def encode(self, values: Mapping[str, Any]) -> bytes:
        """DER bytes for `values` (a mapping from field name to int, bytes, datetime or None)."""
        body = bytearray()
        for field in self.fields:
            value = values.get(field.name)
            if value is None:
                if not field.optional:
                    raise GbcsFormatError(f"{self.name}: missing value", field=field.name)
                continue
            body += _encode_field(self.name, field, value)
        return bytes((TAG_SEQUENCE,)) + encode_length(len(body)) + bytes(body)

    def decode(self, data: bytes, *, base: int = 0) -> dict[str, Any]:
        """The field values of the DER SEQUENCE filling all of `data`.

        `base` is added to every offset in errors, so a payload inside a larger message reports
        offsets of the whole message.
        """
        end, start = _expect_tlv(data, 0, TAG_SEQUENCE, self.name, base)
        if end != len(data):
            raise GbcsFormatError(
                f"{len(data) - end} byte(s) after the {self.name} SEQUENCE",
                field=self.name,
                offset=base + end,
            )
        values: dict[str, Any] = {}
        pos = start
        for field in self.fields:
            if pos >= end or data[pos] != field.kind.value:
                if field.optional:
                    values[field.name] = None
                    continue
                found = f"tag 0x{data[pos]:02X}" if pos < end else "end of SEQUENCE"
                raise GbcsFormatError(
                    f"expected {field.kind.name.replace('_', ' ')}, found {found}",
                    field=field.name,
                    offset=base + pos,
                )
            field_end, content = _expect_tlv(data[:end], pos, field.kind.value, field.name, base)
            if field.inner is not None:
                values[field.name] = field.inner.decode(data[pos:field_end], base=base + pos)
            else:
                values[field.name] = _decode_field(field, data[content:field_end], base + content)
            pos = field_end
        if pos != end:
            raise GbcsFormatError(
                f"unexpected tag 0x{data[pos]:02X} after the last field",
                field=self.name,
                offset=base + pos,
            )
        return values


def encode_length(length: int) -> bytes:
    """A DER length: one byte below 0x80, otherwise 0x81/0x82/... and the big-endian count."""
    if length < 0:
        raise GbcsFormatError(f"negative length {length}")
    if length < 0x80:
        return bytes((length,))
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(octets) > 4:
        raise GbcsFormatError(f"length {length} too large")
    return bytes((0x80 | len(octets),)) + octets


def decode_length(data: bytes, offset: int, field: str, base: int = 0) -> tuple[int, int]:
    """The DER length at `offset` and the offset just after it (minimal form required)."""
    if offset >= len(data):
        raise GbcsFormatError("missing length", field=field, offset=base + offset)
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    count = first & 0x7F
    if count == 0 or count > 4:
        raise GbcsFormatError(
            f"unsupported length form 0x{first:02X}", field=field, offset=base + offset
        )
    if offset + 1 + count > len(data):
        raise GbcsFormatError("truncated length", field=field, offset=base + offset)
    octets = data[offset + 1 : offset + 1 + count]
    length = int.from_bytes(octets, "big")
    if octets[0] == 0 or length < 0x80:
        raise GbcsFormatError(
            f"non-minimal length encoding 0x{data[offset : offset + 1 + count].hex().upper()}",
            field=field,
            offset=base + offset,
        )
    return length, offset + 1 + count


def decode_null(data: bytes, *, field: str, base: int = 0) -> None:
    """Check that `data` is exactly the DER NULL `05 00`."""
    if data != NULL:
        raise GbcsFormatError(
            f"expected NULL (05 00), got {data.hex().upper()}", field=field, offset=base
        )


def encode_time(value: dt.datetime) -> bytes:
    """`YYYYMMDDHHMMSSZ` for an aware UTC datetime (whole seconds)."""
    if value.tzinfo is None or value.utcoffset() != dt.timedelta(0):
        raise GbcsFormatError("GeneralizedTime must be an aware UTC datetime")
    if value.microsecond:
        raise GbcsFormatError("GeneralizedTime carries whole seconds only")
    v = value
    text = f"{v.year:04d}{v.month:02d}{v.day:02d}{v.hour:02d}{v.minute:02d}{v.second:02d}Z"
    return text.encode("ascii")


def decode_time(raw: bytes, *, field: str, offset: int) -> dt.datetime:
    """The aware UTC datetime of a `YYYYMMDDHHMMSSZ` GeneralizedTime value."""
    if len(raw) != _TIME_LENGTH or not raw[:-1].isdigit() or raw[-1:] != b"Z":
        raise GbcsFormatError(
            f"GeneralizedTime must be YYYYMMDDHHMMSSZ, got {raw!r}", field=field, offset=offset
        )
    text = raw.decode("ascii")
    parts = [int(text[i:j]) for i, j in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))]
    try:
        return dt.datetime(*parts, tzinfo=dt.UTC)
    except ValueError:
        raise GbcsFormatError(f"invalid date-time {text}", field=field, offset=offset) from None


def _expect_tlv(data: bytes, offset: int, tag: int, field: str, base: int) -> tuple[int, int]:
    """(end, content_start) of the TLV with `tag` at `offset`, checked against `data`'s end."""
    if offset >= len(data):
        raise GbcsFormatError(
            f"expected tag 0x{tag:02X}, found end of data", field=field, offset=base + offset
        )
    if data[offset] != tag:
        raise GbcsFormatError(
            f"expected tag 0x{tag:02X}, found 0x{data[offset]:02X}",
            field=field,
            offset=base + offset,
        )
    length, start = decode_length(data, offset + 1, field, base)
    if start + length > len(data):
        raise GbcsFormatError(
            f"length {length} runs past the end of the data", field=field, offset=base + offset + 1
        )
    return start + length, start


def _encode_field(owner: str, field: Field, value: Any) -> bytes:
    if field.kind is Kind.SEQUENCE:
        assert field.inner is not None
        if not isinstance(value, Mapping):
            raise GbcsFormatError(f"{owner}: expected a mapping", field=field.name)
        return field.inner.encode(value)
    if field.kind is Kind.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise GbcsFormatError(f"{owner}: expected a non-negative integer", field=field.name)
        if field.maximum is not None and value > field.maximum:
            raise GbcsFormatError(f"{owner}: {value} above {field.maximum}", field=field.name)
        content = value.to_bytes(value.bit_length() // 8 + 1, "big")
    elif field.kind is Kind.OCTET_STRING:
        if not isinstance(value, bytes | bytearray):
            raise GbcsFormatError(f"{owner}: expected bytes", field=field.name)
        if field.size is not None and len(value) != field.size:
            raise GbcsFormatError(
                f"{owner}: expected {field.size} octets, got {len(value)}", field=field.name
            )
        content = bytes(value)
    else:
        if not isinstance(value, dt.datetime):
            raise GbcsFormatError(f"{owner}: expected a datetime", field=field.name)
        content = encode_time(value)
    return bytes((field.kind.value,)) + encode_length(len(content)) + content


def _decode_field(field: Field, content: bytes, offset: int) -> Any:
    if field.kind is Kind.INTEGER:
        if not content:
            raise GbcsFormatError("empty INTEGER", field=field.name, offset=offset)
        if content[0] & 0x80:
            raise GbcsFormatError("negative INTEGER", field=field.name, offset=offset)
        if len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
            raise GbcsFormatError("non-minimal INTEGER", field=field.name, offset=offset)
        value = int.from_bytes(content, "big")
        if field.maximum is not None and value > field.maximum:
            raise GbcsFormatError(
                f"INTEGER {value} above {field.maximum}", field=field.name, offset=offset
            )
        return value
    if field.kind is Kind.OCTET_STRING:
        if field.size is not None and len(content) != field.size:
            raise GbcsFormatError(
                f"expected {field.size} octets, got {len(content)}", field=field.name, offset=offset
            )
        return bytes(content)
    return decode_time(content, field=field.name, offset=offset)
