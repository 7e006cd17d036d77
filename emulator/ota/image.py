"""Zigbee OTA upgrade files: the format declared once with `construct`, parsed and built.

Owns the OTA header (every optional field, driven by field control), the sub-element walk (standard
tags 0x0000-0x0006 and manufacturer tags), the vendor containers real files come in (IKEA `NGIS`,
Legrand, Third Reality, Hue SBL, Telink's 0xF000 element) and the GB OTA Upgrade Image (header ||
Manufacturer Image || force-replace byte || 0x40 || 64-byte supplier signature, or the PPMID form
with no signature). Every malformed file raises `ImageFormatError` naming the field and the byte
offset. Strict mode refuses inconsistencies that lenient mode reports as warnings.

This module only describes bytes. Checking hashes and signatures is verify.py's job; it never does
I/O.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, fields

import construct as c

from emulator.errors import ImageBuildError, ImageFormatError
from emulator.ota.integrity import (
    GB_SIGNATURE_LENGTH,
    INTEGRITY_CODE_LENGTH,
    SUBELEMENT_HEADER_LENGTH,
    aes_mmo,
    gb_sign,
)

MAGIC = 0x0BEEF11E
ZIGBEE_HEADER_VERSION = 0x0100
HEADER_STRING_LENGTH = 32
TAG_UPGRADE_IMAGE = 0x0000
TAG_INTEGRITY_CODE = 0x0003
TAG_TELINK_AES = 0xF000
HUE_MANUFACTURER_ID = 4107
HUE_SBL_MAGIC = b"\x2a\x00\x01"
GB_SIGNATURE_LENGTH_BYTE = 0x40
# Manufacturer Image || force-replace (1) || signature length (1) || signature (64).
GB_TRAILER_LENGTH = 2 + GB_SIGNATURE_LENGTH
MAX_CONTAINER_DEPTH = 4


class FieldControl(enum.IntFlag):
    """Header field control bits (ZCL §11.4.2)."""

    SECURITY_CREDENTIAL_VERSION = 0x0001
    DEVICE_SPECIFIC_FILE = 0x0002
    HARDWARE_VERSIONS = 0x0004


KNOWN_FIELD_CONTROL = (
    FieldControl.SECURITY_CREDENTIAL_VERSION
    | FieldControl.DEVICE_SPECIFIC_FILE
    | FieldControl.HARDWARE_VERSIONS
)

TAG_NAMES = {
    0x0000: "upgrade image",
    0x0001: "ECDSA signature (crypto suite 1)",
    0x0002: "ECDSA signing certificate (crypto suite 1)",
    0x0003: "image integrity code",
    0x0004: "picture data",
    0x0005: "ECDSA signature (crypto suite 2)",
    0x0006: "ECDSA signing certificate (crypto suite 2)",
}

# The one declaration of the OTA header: field names as zigpy names them.
HEADER = c.Struct(
    "upgrade_file_id" / c.Int32ul,
    "header_version" / c.Int16ul,
    "header_length" / c.Int16ul,
    "field_control" / c.Int16ul,
    "manufacturer_id" / c.Int16ul,
    "image_type" / c.Int16ul,
    "file_version" / c.Int32ul,
    "stack_version" / c.Int16ul,
    "header_string" / c.Bytes(HEADER_STRING_LENGTH),
    "image_size" / c.Int32ul,
    "security_credential_version"
    / c.If(c.this.field_control & FieldControl.SECURITY_CREDENTIAL_VERSION, c.Int8ul),
    "upgrade_file_destination"
    / c.If(c.this.field_control & FieldControl.DEVICE_SPECIFIC_FILE, c.Int64ul),
    "minimum_hardware_version"
    / c.If(c.this.field_control & FieldControl.HARDWARE_VERSIONS, c.Int16ul),
    "maximum_hardware_version"
    / c.If(c.this.field_control & FieldControl.HARDWARE_VERSIONS, c.Int16ul),
)
SUBELEMENT_HEAD = c.Struct("tag" / c.Int16ul, "length" / c.Int32ul)
# The walk reads one head per element, possibly hundreds of thousands in a body that is not a
# tag walk, so it reads them with the struct equivalent of SUBELEMENT_HEAD (checked below).
_SUBELEMENT_HEAD_FAST = struct.Struct("<HI")
assert _SUBELEMENT_HEAD_FAST.size == SUBELEMENT_HEAD.sizeof()
SUBELEMENT = c.Struct("tag" / c.Int16ul, "data" / c.Prefixed(c.Int32ul, c.GreedyBytes))
TELINK_AES_HEAD = c.Struct("tag" / c.Int16ul, "length" / c.Int32ul, "tag_info" / c.Int16ul)
IKEA_CONTAINER = c.Struct(
    "magic" / c.Const(b"NGIS"),
    c.Padding(12),
    "image_offset" / c.Int32ul,
    "image_length" / c.Int32ul,
)
LEGRAND_PREFIX_LENGTH = 4
LEGRAND_SUFFIX_LENGTH = 17
THIRD_REALITY_HEADER_LENGTH = 152
THIRD_REALITY_LENGTH_OFFSET = 68
THIRD_REALITY_HASHED_FROM = 64


def _field_layout(field_control: int) -> list[tuple[str, int, int]]:
    """(name, offset, size) of every header field present under `field_control`."""
    layout, offset = [], 0
    context = c.Container(field_control=field_control)
    for sub in HEADER.subcons:
        inner = sub.subcon
        if isinstance(inner, c.IfThenElse):
            if not inner.condfunc(context):
                continue
            inner = inner.thensubcon
        size = inner.sizeof()
        layout.append((sub.name, offset, size))
        offset += size
    return layout


def header_size(field_control: int) -> int:
    """The header length that `field_control` implies (56 to 69 bytes)."""
    _name, offset, size = _field_layout(field_control)[-1]
    return offset + size


@dataclass(frozen=True, slots=True)
class OtaHeader:
    """The OTA file header. Optional fields are None when field control leaves them out."""

    manufacturer_id: int
    image_type: int
    file_version: int
    image_size: int
    header_length: int
    field_control: int = 0
    stack_version: int = 2
    header_string: bytes = bytes(HEADER_STRING_LENGTH)
    upgrade_file_id: int = MAGIC
    header_version: int = ZIGBEE_HEADER_VERSION
    security_credential_version: int | None = None
    upgrade_file_destination: int | None = None
    minimum_hardware_version: int | None = None
    maximum_hardware_version: int | None = None

    @property
    def header_text(self) -> str:
        """The header string as text: NUL padding removed, undecodable bytes escaped."""
        return self.header_string.rstrip(b"\x00").decode("utf-8", errors="backslashreplace")

    def to_json(self) -> dict[str, object]:
        """JSON-ready fields in wire order, named as zigpy names them; integers stay numbers."""
        out: dict[str, object] = {}
        for sub in HEADER.subcons:
            value = getattr(self, sub.name)
            if sub.name == "header_string":
                value = self.header_text
            elif sub.name == "upgrade_file_destination" and value is not None:
                value = format_eui64(value)
            elif value is None:
                continue
            out[sub.name] = value
        return out


@dataclass(frozen=True, slots=True)
class SubElement:
    """One tag-length-value element; `offset` is where its tag starts in the OTA file."""

    tag: int
    offset: int
    data: bytes
    #: Telink's extra uint16 after the length of 0xF000 elements; None for standard elements.
    tag_info: int | None = None

    @property
    def length(self) -> int:
        return len(self.data)

    @property
    def value_offset(self) -> int:
        extra = 2 if self.tag_info is not None else 0
        return self.offset + SUBELEMENT_HEADER_LENGTH + extra


@dataclass(frozen=True, slots=True)
class GbBody:
    """The opaque body of a GB OTA Upgrade Image (no sub-element tags)."""

    manufacturer_image_offset: int
    manufacturer_image_length: int
    #: The byte after the Manufacturer Image ("force replace", used by the CH); None if unsigned.
    force_replace: int | None
    #: The 64-byte supplier signature r||s, or None in the PPMID form that carries none.
    signature: bytes | None


@dataclass(frozen=True, slots=True)
class OtaFile:
    """A parsed OTA file. Offsets refer to `data`, the standard OTA file inside any container."""

    format: str
    header: OtaHeader
    data: bytes
    subelements: tuple[SubElement, ...] = ()
    gb: GbBody | None = None
    #: Outermost first, e.g. ("ikea",); empty for a bare file.
    containers: tuple[str, ...] = ()
    #: Offset of `data` inside the bytes that were parsed.
    container_offset: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def manufacturer_image(self) -> memoryview:
        """The GB Manufacturer Image (a view into `data`, never a copy)."""
        if self.gb is None:
            raise ValueError("not a GB OTA Upgrade Image")
        start = self.gb.manufacturer_image_offset
        return memoryview(self.data)[start : start + self.gb.manufacturer_image_length]

    def element(self, tag: int) -> SubElement | None:
        """The first sub-element with `tag`, if any."""
        return next((e for e in self.subelements if e.tag == tag), None)


def format_eui64(value: int) -> str:
    """EUI64 in the usual big-endian colon form, e.g. 00:0d:6f:00:00:19:8b:36."""
    return ":".join(f"{b:02x}" for b in value.to_bytes(8, "big"))


def parse_eui64(text: str) -> int:
    """An EUI64 from `00:0d:6f:...`, `000d6f...` or `0x000d6f...`."""
    digits = text.replace(":", "").replace("-", "").lower().removeprefix("0x")
    if len(digits) != 16 or any(ch not in "0123456789abcdef" for ch in digits):
        raise ImageBuildError(f"not an EUI64: {text!r} (expected 16 hex digits)")
    return int(digits, 16)


# ----------------------------------------------------------------------------------------------
# Parsing


class _Findings:
    """Inconsistencies found while parsing: errors in strict mode, warnings otherwise."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.warnings: list[str] = []

    def inconsistent(self, what: str, *, field: str, offset: int) -> None:
        if self.strict:
            raise ImageFormatError(what, field=field, offset=offset)
        self.warnings.append(f"{what} (field {field} at offset {offset})")


def parse_header(data: bytes | memoryview, base: int = 0) -> OtaHeader:
    """The OTA header at the start of `data`; errors name the field and its offset + `base`."""
    view = memoryview(data)
    if len(view) < 4 or int.from_bytes(view[:4], "little") != MAGIC:
        raise ImageFormatError(
            f"not an OTA upgrade file: magic is not {MAGIC:#010x}",
            field="upgrade_file_id",
            offset=base,
        )
    fixed_end = header_size(0)
    field_control = int.from_bytes(view[8:10], "little") if len(view) >= fixed_end else 0
    layout = _field_layout(field_control)
    for name, offset, size in layout:
        if len(view) < offset + size:
            raise ImageFormatError(
                f"file ends inside the header ({len(view)} bytes, need {offset + size})",
                field=name,
                offset=base + offset,
            )
    parsed = HEADER.parse(view[: header_size(field_control)])
    return OtaHeader(**{f.name: parsed[f.name] for f in fields(OtaHeader)})


def _field_offset(name: str, field_control: int) -> int:
    return next(offset for n, offset, _ in _field_layout(field_control) if n == name)


def _walk_subelements(data: bytes, start: int, end: int, *, telink: bool) -> tuple[SubElement, ...]:
    """Tag-length-value elements in data[start:end]; the walk must end exactly at `end`.

    The walk first finds every element's place (plain integers), and only then copies values out,
    so a body that is not a tag walk (a GB image, say) costs no allocations before it fails.
    """
    # (tag, element offset, value start, value end, tag_info) of every element, in order.
    places: list[tuple[int, int, int, int, int | None]] = []
    offset = start
    while offset < end:
        if end - offset < SUBELEMENT_HEADER_LENGTH:
            raise ImageFormatError(
                f"{end - offset} stray bytes where a sub-element header (6 bytes) should start",
                field="subelement.tag",
                offset=offset,
            )
        tag, length = _SUBELEMENT_HEAD_FAST.unpack_from(data, offset)
        value_start = offset + SUBELEMENT_HEADER_LENGTH
        tag_info = None
        if telink and tag == TAG_TELINK_AES:
            if end - value_start < 2:
                raise ImageFormatError(
                    "Telink AES element ends before its tag_info",
                    field="subelement.tag_info",
                    offset=value_start,
                )
            tag_info = int.from_bytes(data[value_start : value_start + 2], "little")
            value_start += 2
        if length > end - value_start:
            raise ImageFormatError(
                f"sub-element tag {tag:#06x} claims {length} bytes but only "
                f"{end - value_start} remain before TotalImageSize",
                field="subelement.length",
                offset=offset + 2,
            )
        places.append((tag, offset, value_start, value_start + length, tag_info))
        offset = value_start + length
    return tuple(
        SubElement(tag=tag, offset=at, data=data[value_start:value_end], tag_info=tag_info)
        for tag, at, value_start, value_end, tag_info in places
    )


def _gb_body(data: bytes, header: OtaHeader, *, require_signature: bool) -> GbBody | None:
    start, end = header.header_length, header.image_size
    body_length = end - start
    trailer_ok = (
        body_length >= GB_TRAILER_LENGTH
        and data[end - GB_TRAILER_LENGTH + 1] == GB_SIGNATURE_LENGTH_BYTE
    )
    if trailer_ok and (not require_signature or data[end - GB_TRAILER_LENGTH] in (0, 1)):
        return GbBody(
            manufacturer_image_offset=start,
            manufacturer_image_length=body_length - GB_TRAILER_LENGTH,
            force_replace=data[end - GB_TRAILER_LENGTH],
            signature=bytes(data[end - GB_SIGNATURE_LENGTH : end]),
        )
    if require_signature:
        return None
    return GbBody(
        manufacturer_image_offset=start,
        manufacturer_image_length=body_length,
        force_replace=None,
        signature=None,
    )


def _unwrap(data: bytes) -> tuple[str, int, int] | None:
    """(container name, offset, length) of the OTA file a vendor container holds, if any."""
    if data[:4] == b"NGIS":
        if len(data) < IKEA_CONTAINER.sizeof():
            raise ImageFormatError(
                f"IKEA container too short ({len(data)} bytes)", field="ngis.header", offset=0
            )
        box = IKEA_CONTAINER.parse(data)
        if box.image_offset + box.image_length > len(data):
            raise ImageFormatError(
                f"IKEA container points past its end ({box.image_offset}+{box.image_length} > "
                f"{len(data)})",
                field="ngis.image_length",
                offset=20,
            )
        return "ikea", box.image_offset, box.image_length
    if len(data) > LEGRAND_PREFIX_LENGTH + LEGRAND_SUFFIX_LENGTH and int.from_bytes(
        data[:4], "little"
    ) + LEGRAND_PREFIX_LENGTH + LEGRAND_SUFFIX_LENGTH == len(data):
        inner = len(data) - LEGRAND_PREFIX_LENGTH - LEGRAND_SUFFIX_LENGTH
        return "legrand", LEGRAND_PREFIX_LENGTH, inner
    if (
        len(data) > THIRD_REALITY_HEADER_LENGTH
        and int.from_bytes(
            data[THIRD_REALITY_LENGTH_OFFSET : THIRD_REALITY_LENGTH_OFFSET + 4], "little"
        )
        + THIRD_REALITY_HASHED_FROM
        == len(data)
        and data[:64] == hashlib.sha512(memoryview(data)[THIRD_REALITY_HASHED_FROM:]).digest()
    ):
        inner = len(data) - THIRD_REALITY_HEADER_LENGTH
        return "third-reality", THIRD_REALITY_HEADER_LENGTH, inner
    return None


FORMATS = ("auto", "zigbee", "gb")


def parse_image(
    data: bytes | bytearray | memoryview, *, format: str = "auto", strict: bool = False
) -> OtaFile:
    """Parse an OTA file, unwrapping vendor containers; see the module docstring.

    `format` is "auto" (detect), "zigbee" (tag walk only) or "gb" (opaque GB body only).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {format!r}")
    data = bytes(data)
    containers: list[str] = []
    base = 0
    while (found := _unwrap(data)) is not None:
        if len(containers) == MAX_CONTAINER_DEPTH:
            raise ImageFormatError(
                f"containers nested more than {MAX_CONTAINER_DEPTH} deep",
                field="container",
                offset=base,
            )
        name, offset, length = found
        containers.append(name)
        base += offset
        data = data[offset : offset + length]
    parsed = _parse_bare(data, base=base, format=format, strict=strict)
    if not containers:
        return parsed
    return OtaFile(
        format=containers[0],
        header=parsed.header,
        data=parsed.data,
        subelements=parsed.subelements,
        gb=parsed.gb,
        containers=tuple(containers),
        container_offset=base,
        warnings=parsed.warnings,
    )


def _parse_bare(data: bytes, *, base: int, format: str, strict: bool) -> OtaFile:
    findings = _Findings(strict)
    header = parse_header(data, base)
    fc = header.field_control
    expected_length = header_size(fc)
    if fc & ~int(KNOWN_FIELD_CONTROL):
        findings.inconsistent(
            f"reserved field control bits set ({fc:#06x})",
            field="field_control",
            offset=base + 8,
        )
    if header.header_version != ZIGBEE_HEADER_VERSION:
        findings.inconsistent(
            f"header version {header.header_version:#06x}, expected {ZIGBEE_HEADER_VERSION:#06x}",
            field="header_version",
            offset=base + 4,
        )
    if header.header_length < expected_length:
        raise ImageFormatError(
            f"HeaderLength {header.header_length} is shorter than the {expected_length} bytes "
            "field control implies",
            field="header_length",
            offset=base + 6,
        )
    if header.header_length != expected_length:
        findings.inconsistent(
            f"HeaderLength {header.header_length} differs from the {expected_length} bytes "
            "field control implies",
            field="header_length",
            offset=base + 6,
        )
    size_offset = base + _field_offset("image_size", fc)
    if header.image_size < header.header_length:
        raise ImageFormatError(
            f"TotalImageSize {header.image_size} is smaller than HeaderLength "
            f"{header.header_length}",
            field="image_size",
            offset=size_offset,
        )
    if header.image_size > len(data):
        raise ImageFormatError(
            f"file is truncated: TotalImageSize says {header.image_size} bytes, "
            f"file has {len(data)}",
            field="image_size",
            offset=size_offset,
        )
    if header.image_size < len(data):
        findings.inconsistent(
            f"TotalImageSize {header.image_size} differs from the file length {len(data)} "
            f"({len(data) - header.image_size} trailing bytes ignored)",
            field="image_size",
            offset=size_offset,
        )
    _check_hardware_versions(header, findings, base, gb=format == "gb")
    image = data[: header.image_size]
    start, end = header.header_length, header.image_size

    def done(fmt: str, **kw) -> OtaFile:
        return OtaFile(
            format=fmt, header=header, data=image, warnings=tuple(findings.warnings), **kw
        )

    if format == "gb":
        gb = _gb_body(image, header, require_signature=False)
        if gb is not None and gb.signature is None:
            findings.warnings.append("no supplier signature (PPMID form)")
        return done("gb", gb=gb)
    if (
        format == "auto"
        and header.manufacturer_id == HUE_MANUFACTURER_ID
        and image[start : start + len(HUE_SBL_MAGIC)] == HUE_SBL_MAGIC
    ):
        return done("hue-sbl")
    try:
        elements = _walk_subelements(image, start, end, telink=False)
    except ImageFormatError as walk_error:
        if format == "zigbee":
            raise _rebased(walk_error, base) from None
        try:
            elements = _walk_subelements(image, start, end, telink=True)
        except ImageFormatError:
            gb = _gb_body(image, header, require_signature=True)
            if gb is None and fc & FieldControl.HARDWARE_VERSIONS and not strict:
                # A guess: strict mode takes the PPMID form only when told (--format gb).
                gb = _gb_body(image, header, require_signature=False)
                findings.warnings.append(
                    "no sub-element walk fits and no supplier signature: read as a GB image "
                    "in the PPMID form"
                )
            if gb is None:
                raise _rebased(walk_error, base) from None
            return done("gb", gb=gb)
        return done("telink", subelements=elements)
    _check_elements(elements, findings, base)
    return done("zigbee", subelements=elements)


def _check_hardware_versions(
    header: OtaHeader, findings: _Findings, base: int, *, gb: bool
) -> None:
    """A GB image carries hardware versions, and an empty range fits no device: errors in
    strict mode."""
    if gb and not header.field_control & FieldControl.HARDWARE_VERSIONS:
        findings.inconsistent(
            "GB OTA Upgrade Images carry hardware versions (field control bit 2)",
            field="field_control",
            offset=base + 8,
        )
    low, high = header.minimum_hardware_version, header.maximum_hardware_version
    if low is not None and high is not None and low > high:
        findings.inconsistent(
            f"hardware version range is empty: minimum {low:#06x} is above maximum {high:#06x}",
            field="minimum_hardware_version",
            offset=base + _field_offset("minimum_hardware_version", header.field_control),
        )


def _check_elements(elements: Sequence[SubElement], findings: _Findings, base: int) -> None:
    for index, element in enumerate(elements):
        if element.tag == TAG_INTEGRITY_CODE:
            if element.length != INTEGRITY_CODE_LENGTH:
                findings.inconsistent(
                    f"image integrity code is {element.length} bytes, expected 16",
                    field="subelement.length",
                    offset=base + element.offset + 2,
                )
            if index != len(elements) - 1:
                findings.inconsistent(
                    "image integrity code is not the last sub-element",
                    field="subelement.tag",
                    offset=base + element.offset,
                )


def _rebased(error: ImageFormatError, base: int) -> ImageFormatError:
    if not base or error.offset is None:
        return error
    return ImageFormatError(error.what, field=error.field, offset=error.offset + base)


# ----------------------------------------------------------------------------------------------
# Building


def _header_values(header: OtaHeader) -> dict[str, object]:
    return {f.name: getattr(header, f.name) for f in fields(OtaHeader)}


def serialize(header: OtaHeader, subelements: Sequence[SubElement | tuple[int, bytes]]) -> bytes:
    """Bytes of a standard OTA file from a header model and its sub-elements, exactly as given.

    Raises `ImageBuildError` if the header's HeaderLength or TotalImageSize disagree with what is
    built, so a model that round-trips reproduces its bytes and a broken one never does silently.
    """
    try:
        head = HEADER.build(_header_values(header))
    except (c.ConstructError, TypeError, ValueError) as exc:
        raise ImageBuildError(f"header cannot be built: {exc}") from None
    if len(head) != header.header_length:
        raise ImageBuildError(
            f"HeaderLength is {header.header_length} but the header built is {len(head)} bytes"
        )
    parts = [head]
    for element in subelements:
        tag, data = (element.tag, element.data) if isinstance(element, SubElement) else element
        parts.append(SUBELEMENT.build({"tag": tag, "data": data}))
    out = b"".join(parts)
    if len(out) != header.image_size:
        raise ImageBuildError(
            f"TotalImageSize is {header.image_size} but the file built is {len(out)} bytes"
        )
    return out


def make_header(
    *,
    manufacturer_id: int,
    image_type: int,
    file_version: int,
    body_length: int,
    header_string: str | bytes = "",
    stack_version: int = 2,
    min_hw: int | None = None,
    max_hw: int | None = None,
    destination: int | None = None,
    security_credential_version: int | None = None,
) -> OtaHeader:
    """A header whose field control, HeaderLength and TotalImageSize follow from its fields."""
    if (min_hw is None) != (max_hw is None):
        raise ImageBuildError("give both minimum and maximum hardware versions, or neither")
    if min_hw is not None and max_hw is not None and min_hw > max_hw:
        raise ImageBuildError(
            f"minimum hardware version {min_hw:#06x} is above the maximum {max_hw:#06x}"
        )
    raw = header_string.encode("utf-8") if isinstance(header_string, str) else header_string
    if len(raw) > HEADER_STRING_LENGTH:
        raise ImageBuildError(
            f"header string is {len(raw)} bytes; the field holds {HEADER_STRING_LENGTH}"
        )
    fc = FieldControl(0)
    if security_credential_version is not None:
        fc |= FieldControl.SECURITY_CREDENTIAL_VERSION
    if destination is not None:
        fc |= FieldControl.DEVICE_SPECIFIC_FILE
    if min_hw is not None:
        fc |= FieldControl.HARDWARE_VERSIONS
    length = header_size(fc)
    for name, value, bits in (
        ("manufacturer_id", manufacturer_id, 16),
        ("image_type", image_type, 16),
        ("file_version", file_version, 32),
        ("stack_version", stack_version, 16),
        ("min_hw", min_hw, 16),
        ("max_hw", max_hw, 16),
        ("security_credential_version", security_credential_version, 8),
        ("destination", destination, 64),
        ("image_size", length + body_length, 32),
    ):
        if value is not None and not 0 <= value < 1 << bits:
            raise ImageBuildError(f"{name} {value} does not fit in {bits} bits")
    return OtaHeader(
        manufacturer_id=manufacturer_id,
        image_type=image_type,
        file_version=file_version,
        image_size=length + body_length,
        header_length=length,
        field_control=int(fc),
        stack_version=stack_version,
        header_string=raw.ljust(HEADER_STRING_LENGTH, b"\x00"),
        security_credential_version=security_credential_version,
        upgrade_file_destination=destination,
        minimum_hardware_version=min_hw,
        maximum_hardware_version=max_hw,
    )


def build_image(
    payload: bytes,
    *,
    manufacturer_id: int,
    image_type: int,
    file_version: int,
    header_string: str | bytes = "",
    stack_version: int = 2,
    min_hw: int | None = None,
    max_hw: int | None = None,
    destination: int | None = None,
    security_credential_version: int | None = None,
    tags: Sequence[tuple[int, bytes]] = (),
    integrity: bool = False,
) -> bytes:
    """A standard Zigbee OTA file: upgrade image element, then `tags`, then (if asked) an
    Image Integrity Code over everything before its 16-byte value."""
    elements = [(TAG_UPGRADE_IMAGE, payload), *tags]
    for tag, _ in elements:
        if not 0 <= tag <= 0xFFFF:
            raise ImageBuildError(f"tag {tag} does not fit in 16 bits")
    body_length = sum(SUBELEMENT_HEADER_LENGTH + len(data) for _, data in elements)
    if integrity:
        body_length += SUBELEMENT_HEADER_LENGTH + INTEGRITY_CODE_LENGTH
    header = make_header(
        manufacturer_id=manufacturer_id,
        image_type=image_type,
        file_version=file_version,
        body_length=body_length,
        header_string=header_string,
        stack_version=stack_version,
        min_hw=min_hw,
        max_hw=max_hw,
        destination=destination,
        security_credential_version=security_credential_version,
    )
    if not integrity:
        return serialize(header, elements)
    # Build with a zero placeholder, then hash everything before the 16-byte value.
    placeholder = serialize(header, [*elements, (TAG_INTEGRITY_CODE, bytes(INTEGRITY_CODE_LENGTH))])
    covered = memoryview(placeholder)[:-INTEGRITY_CODE_LENGTH]
    return bytes(covered) + aes_mmo(covered)


def build_gb_image(
    manufacturer_image: bytes,
    *,
    manufacturer_id: int,
    image_type: int,
    file_version: int,
    min_hw: int,
    max_hw: int,
    header_string: str | bytes = "",
    supplier_key=None,
    force_replace: int = 0,
) -> bytes:
    """A GB OTA Upgrade Image (GBCS 11.2.3): header || Manufacturer Image || force_replace ||
    0x40 || supplier signature over the Manufacturer Image. Without `supplier_key`, the PPMID
    form: header || Manufacturer Image."""
    trailer = b""
    if supplier_key is not None:
        if not 0 <= force_replace <= 0xFF:
            raise ImageBuildError(f"force_replace {force_replace} does not fit in a byte")
        signature = gb_sign(manufacturer_image, supplier_key)
        trailer = bytes([force_replace, GB_SIGNATURE_LENGTH_BYTE]) + signature
    header = make_header(
        manufacturer_id=manufacturer_id,
        image_type=image_type,
        file_version=file_version,
        body_length=len(manufacturer_image) + len(trailer),
        header_string=header_string,
        min_hw=min_hw,
        max_hw=max_hw,
    )
    return HEADER.build(_header_values(header)) + manufacturer_image + trailer


__all__ = [
    "FORMATS",
    "FieldControl",
    "GbBody",
    "OtaFile",
    "OtaHeader",
    "SubElement",
    "build_gb_image",
    "build_image",
    "header_size",
    "make_header",
    "parse_header",
    "parse_image",
    "serialize",
]
