"""OTA Upgrade cluster (0x0019) frames as real ZCL bytes, through zigpy's own schemas.

This module owns turning OTA commands into ZCL bytes and back: the ZCL header is zigpy's
`ZCLHeader`, every payload is zigpy's `Ota` command schema (or `Default_Response`), so the bytes are
exactly what a zigpy/bellows peer sends and expects. Decoding failures become `FrameError` naming
the field and byte offset, plus the ZCL status a receiver should answer with. The two frames of
every block exchange go through `fastcodec` (struct, differential-tested against zigpy) when it
is sure of them. It must never hold protocol decisions (what to answer, when) and never touch
I/O.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any

import zigpy.types as t
import zigpy.zcl.foundation as foundation
from zigpy.zcl.clusters.general import Ota

from emulator.errors import FrameError
from emulator.ota import fastcodec

CLUSTER_ID = 0x0019
Status = foundation.Status
Direction = foundation.Direction
C2S = Direction.Client_to_Server
S2C = Direction.Server_to_Client

HEADER_LENGTH = 3
NO_UPGRADE_TIME = 0xFFFFFFFF
"""UpgradeTime meaning "wait for the server to tell you" (spec §1.4)."""
WILDCARD_MANUFACTURER = 0xFFFF
WILDCARD_IMAGE_TYPE = 0xFFFF
WILDCARD_FILE_VERSION = 0xFFFFFFFF

# Command definitions by (direction of travel, command id) and by name.
_BY_ID: dict[tuple[Direction, int], foundation.ZCLCommandDef] = {}
_BY_NAME: dict[str, tuple[Direction, foundation.ZCLCommandDef]] = {}
for _cid, _cmd in Ota.server_commands.items():  # received by the server: client -> server
    _BY_ID[(C2S, _cid)] = _cmd
    _BY_NAME[_cmd.name] = (C2S, _cmd)
for _cid, _cmd in Ota.client_commands.items():  # received by the client: server -> client
    _BY_ID[(S2C, _cid)] = _cmd
    _BY_NAME[_cmd.name] = (S2C, _cmd)

DEFAULT_RESPONSE = "default_response"
_DEFAULT_RESPONSE_SCHEMA = foundation.GENERAL_COMMANDS[
    foundation.GeneralCommand.Default_Response
].schema
COMMAND_IDS: dict[str, int] = {name: cmd.id for name, (_, cmd) in _BY_NAME.items()}


class _WaitForDataShort(foundation.CommandSchema):
    """The 9-byte WAIT_FOR_DATA form of older servers (no MinimumBlockPeriod), spec §1.4."""

    status: foundation.Status
    current_time: t.UTCTime
    request_time: t.UTCTime


@dataclass(frozen=True, slots=True)
class Send:
    """Transmit ZCL bytes `data` to node `dst`, `delay` seconds from now."""

    data: bytes
    dst: int
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Header:
    """A ZCL header: zigpy's `FrameControl` plus TSN, command id and manufacturer code."""

    frame_control: foundation.FrameControl
    tsn: int
    command_id: int
    manufacturer: int | None = None

    @property
    def direction(self) -> Direction:
        return self.frame_control.direction

    @property
    def is_default_response(self) -> bool:
        return (
            self.frame_control.frame_type == foundation.FrameType.GLOBAL_COMMAND
            and self.command_id == foundation.GeneralCommand.Default_Response
        )


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame: its header, the command name and zigpy's command object."""

    header: Header
    name: str
    command: Any
    payload_length: int

    @property
    def tsn(self) -> int:
        return self.header.tsn

    @property
    def direction(self) -> Direction:
        return self.header.frame_control.direction

    @property
    def disable_default_response(self) -> bool:
        return bool(self.header.frame_control.disable_default_response)


def encode(
    name: str,
    tsn: int,
    *,
    disable_default_response: bool | None = None,
    **fields: Any,
) -> bytes:
    """ZCL bytes of OTA command `name` (zigpy's name, e.g. "image_block") with `fields`.

    Server-to-client commands set disable-default-response by default, as EmberZNet servers do
    on cluster responses (spec §1.3); pass False for a unicast Image Notify.
    """
    try:
        direction, cmd = _BY_NAME[name]
    except KeyError:
        raise FrameError(f"unknown OTA command {name!r}", field="command_id") from None
    if disable_default_response is None:
        disable_default_response = direction == S2C
    header = _header(False, tsn, cmd.id, direction, disable_default_response)
    fast = _FAST_ENCODERS.get(name)
    payload = fast(fields) if fast is not None else None
    if payload is None:
        payload = encode_payload(name, **fields)
    return header + payload


def encode_image_block(
    tsn: int,
    field_control: int,
    manufacturer_code: int,
    image_type: int,
    file_version: int,
    file_offset: int,
    maximum_data_size: int,
    minimum_block_period: int | None = None,
    request_node_addr: Any = None,
) -> bytes:
    """`encode("image_block", tsn, ...)` with the fields as arguments: the client's request of
    every block exchange, packed by `fastcodec` when it is sure of the form."""
    if "image_block" in _FAST_ENCODERS:
        payload = fastcodec.pack_image_block(
            field_control,
            manufacturer_code,
            image_type,
            file_version,
            file_offset,
            maximum_data_size,
            minimum_block_period,
            request_node_addr,
        )
        if payload is not None:
            return bytes((_BLOCK_FRAME_CONTROL, tsn & 0xFF, _BLOCK_ID)) + payload
    return encode(
        "image_block",
        tsn,
        field_control=field_control,
        manufacturer_code=manufacturer_code,
        image_type=image_type,
        file_version=file_version,
        file_offset=file_offset,
        maximum_data_size=maximum_data_size,
        minimum_block_period=minimum_block_period,
        request_node_addr=request_node_addr,
    )


def encode_image_block_response(
    tsn: int,
    manufacturer_code: int,
    image_type: int,
    file_version: int,
    file_offset: int,
    image_data: bytes,
) -> bytes:
    """`encode("image_block_response", tsn, status=SUCCESS, ...)` with the fields as arguments:
    the server's answer of every block exchange, packed by `fastcodec` when it is sure of it."""
    if "image_block_response" in _FAST_ENCODERS:
        payload = fastcodec.pack_image_block_response(
            manufacturer_code, image_type, file_version, file_offset, image_data
        )
        if payload is not None:
            return bytes((_RESPONSE_FRAME_CONTROL, tsn & 0xFF, _RESPONSE_ID)) + payload
    return encode(
        "image_block_response",
        tsn,
        status=Status.SUCCESS,
        manufacturer_code=manufacturer_code,
        image_type=image_type,
        file_version=file_version,
        file_offset=file_offset,
        image_data=image_data,
    )


def encode_payload(name: str, **fields: Any) -> bytes:
    """The payload of OTA command `name` built by zigpy's schema (the reference codec)."""
    _direction, cmd = _BY_NAME[name]
    try:
        return cmd.schema(**fields).serialize()
    except (TypeError, ValueError) as exc:
        raise FrameError(f"cannot build {name}: {exc}", field=name) from None


def encode_default_response(
    tsn: int, command_id: int, status: foundation.Status | int, direction: Direction
) -> bytes:
    """ZCL Default Response (general command 0x0B) to command `command_id` of this cluster."""
    header = _header(True, tsn, foundation.GeneralCommand.Default_Response, direction, True)
    payload = _DEFAULT_RESPONSE_SCHEMA(command_id=command_id, status=Status(status)).serialize()
    return header + payload


def _header(
    general: bool, tsn: int, command_id: int, direction: Direction, disable_default_response: bool
) -> bytes:
    """Header bytes: zigpy builds each distinct header once; only the TSN byte varies."""
    key = (general, int(command_id), direction, bool(disable_default_response))
    template = _HEADER_TEMPLATES.get(key)
    if template is None:
        template = _HEADER_TEMPLATES[key] = _zigpy_header(*key).serialize()
    return template[:1] + bytes((tsn & 0xFF,)) + template[2:]


_HEADER_TEMPLATES: dict[tuple[bool, int, Direction, bool], bytes] = {}


def _zigpy_header(
    general: bool, command_id: int, direction: Direction, disable_default_response: bool
) -> foundation.ZCLHeader:
    frame_control = foundation.FrameControl(
        frame_type=(
            foundation.FrameType.GLOBAL_COMMAND if general else foundation.FrameType.CLUSTER_COMMAND
        ),
        is_manufacturer_specific=False,
        direction=direction,
        disable_default_response=bool(disable_default_response),
        reserved=0,
    )
    return foundation.ZCLHeader(frame_control=frame_control, tsn=0, command_id=command_id)


def decode(data: bytes) -> Frame:
    """Parse ZCL bytes of this cluster. Raises `FrameError` (with `.header` when the header
    parsed, and `.status` = the ZCL status to answer with) for anything else."""
    if len(data) < HEADER_LENGTH:
        raise _frame_error("frame shorter than the 3-byte ZCL header", "header", len(data))
    # The frames of every block exchange: a (frame control, command id) pair the general path
    # below already sent to a fast decoder skips straight to it (same header, same answer).
    route = _FAST_ROUTES.get(data[0] | data[2] << 8)
    if route is not None:
        name, fast = route
        command = fast(data, HEADER_LENGTH)
        if command is not None:
            return Frame(_fast_header(data), name, command, len(data) - HEADER_LENGTH)
    header, offset = decode_header(data)
    payload = bytes(data[offset:])
    fc = header.frame_control
    if fc.frame_type == foundation.FrameType.GLOBAL_COMMAND:
        if header.command_id != foundation.GeneralCommand.Default_Response:
            raise _frame_error(
                f"general command 0x{header.command_id:02X} not handled by the OTA cluster",
                "command_id",
                offset - 1,
                header=header,
                status=Status.UNSUP_GENERAL_COMMAND,
            )
        schema = _DEFAULT_RESPONSE_SCHEMA
        name = DEFAULT_RESPONSE
    else:
        if fc.is_manufacturer_specific:
            raise _frame_error(
                "manufacturer-specific OTA command",
                "frame_control",
                0,
                header=header,
                status=Status.UNSUP_MANUF_CLUSTER_COMMAND,
            )
        cmd = _BY_ID.get((header.direction, header.command_id))
        if cmd is None:
            raise _frame_error(
                f"unknown OTA command 0x{header.command_id:02X} for this direction",
                "command_id",
                offset - 1,
                header=header,
                status=Status.UNSUP_CLUSTER_COMMAND,
            )
        name = cmd.name
        fast = _FAST_DECODERS.get(name)
        if fast is not None:
            if offset == HEADER_LENGTH and not data[0] & _RESERVED_BITS:
                _FAST_ROUTES[data[0] | data[2] << 8] = (name, fast)
            command = fast(payload)
            if command is not None:
                return Frame(header, name, command, len(payload))
        schema = cmd.schema
    try:
        command, _rest = schema.deserialize(payload)
    except (ValueError, KeyError, TypeError):
        command = _tolerated(name, payload)
        if command is None:
            field, at = _locate(schema, payload)
            raise _frame_error(
                f"{name} payload malformed",
                field,
                offset + at,
                header=header,
                status=Status.MALFORMED_COMMAND,
            ) from None
    return Frame(header, name, command, len(payload))


_FRAME_CONTROLS: dict[int, foundation.FrameControl] = {}
_FAST_ROUTES: dict[int, tuple[str, Any]] = {}
"""Frame control byte | command id << 8 -> (command name, fast decoder), learnt by `decode`
for cluster commands without a manufacturer code whose command has a fast decoder."""
_RESERVED_BITS = 0xE0
"""Frame control bits ZCL reserves: frames setting them never take a fast route."""
_HEADERS: dict[int, Header] = {}
"""The headers of those frames by their three bytes (at most 256 per route): a `Header` is
immutable, so one object serves every frame with the same bytes."""


def _fast_header(data: bytes) -> Header:
    key = data[0] | data[1] << 8 | data[2] << 16
    header = _HEADERS.get(key)
    if header is None:
        header = _HEADERS[key] = decode_header(data)[0]
    return header


_FAST_ENCODERS = {
    "image_block": fastcodec.encode_image_block,
    "image_block_response": fastcodec.encode_image_block_response,
}
_FAST_DECODERS = {
    "image_block": fastcodec.decode_image_block,
    "image_block_response": fastcodec.decode_image_block_response,
}


_BLOCK_ID = Ota.ServerCommandDefs.image_block.id
_RESPONSE_ID = Ota.ClientCommandDefs.image_block_response.id
_BLOCK_FRAME_CONTROL = _zigpy_header(False, _BLOCK_ID, C2S, False).frame_control.serialize()[0]
_RESPONSE_FRAME_CONTROL = _zigpy_header(False, _RESPONSE_ID, S2C, True).frame_control.serialize()[0]


def decode_header(data: bytes) -> tuple[Header, int]:
    """The ZCL header of `data` and where the payload starts. The frame-control byte is parsed
    by zigpy (once per distinct value); differential tests pin this against `ZCLHeader`."""
    first = data[0]
    fc = _FRAME_CONTROLS.get(first)
    if fc is None:
        fc = _FRAME_CONTROLS[first] = foundation.FrameControl.deserialize(bytes((first,)))[0]
    if fc.is_manufacturer_specific:
        if len(data) < 5:
            raise _frame_error("ZCL header truncated", "header", len(data))
        return Header(fc, data[3], data[4], data[1] | data[2] << 8), 5
    return Header(fc, data[1], data[2]), 3


def _tolerated(name: str, payload: bytes) -> Any | None:
    """Short forms real servers send that zigpy's schema refuses (spec §1.4)."""
    if name == "image_block_response" and len(payload) == 9 and payload[0] == Status.WAIT_FOR_DATA:
        short, _ = _WaitForDataShort.deserialize(payload)
        return Ota.ImageBlockResponseCommand(
            status=short.status,
            current_time=short.current_time,
            request_time=short.request_time,
            minimum_block_period=None,
        )
    return None


def _locate(schema: Any, payload: bytes) -> tuple[str, int]:
    """Which field of `schema` fails to parse from `payload`, and at which payload offset."""
    partial = types.SimpleNamespace()
    data = payload
    at = 0
    for field in schema.fields:
        if field.requires is not None and not field.requires(partial):
            setattr(partial, field.name, None)
            continue
        if field.optional and not data:
            break
        try:
            value, rest = field.type.deserialize(data)
        except (ValueError, KeyError, TypeError):
            return field.name, at
        setattr(partial, field.name, value)
        at += len(data) - len(rest)
        data = rest
    return "payload", at


def _frame_error(
    what: str,
    field: str,
    offset: int,
    *,
    header: Header | None = None,
    status: foundation.Status = Status.MALFORMED_COMMAND,
) -> FrameError:
    return FrameError(what, field=field, offset=offset, header=header, status=status)


def eui64(value: int) -> t.EUI64:
    """zigpy's EUI64 for an integer address (as shown, big-endian: 00:0d:6f:...)."""
    return t.EUI64.deserialize(value.to_bytes(8, "little"))[0]


def eui64_int(value: t.EUI64) -> int:
    """The integer of a zigpy EUI64."""
    return int.from_bytes(value.serialize(), "little")


def command_id(name: str) -> int:
    """OTA command id of zigpy's command `name`."""
    return COMMAND_IDS[name]
