"""The Smart Energy Messaging cluster's Display Message, and the paper's activation text in it.

Paper IHD option 2 has the supplier send, through the ESME, a Display Message whose text asks
the IHD to activate the image with a given hash. This module owns the Display Message frame
(cluster 0x0703, command 0x00, server to client: Message ID, Message Control, Start Time,
Duration In Minutes, Message as a ZCL string) and that text: `activation_text(hash)` writes it,
`requested_hash(text)` reads it back. zigpy declares no Messaging commands, so the codec is here.

The text must fit one APS-encrypted Smart Energy frame (73 octets of APS payload, 15 of them the
command's fixed fields), so it is "activate fw " and the SHA-256 in unpadded base64url (55
characters); the paper's longer wording "activate firmware <hash>" is read too, with the hash in
hex or base64url. Nothing here authenticates anything: that is the point of the option.
It never decides whether a device acts on a message and never does I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass

from zigpy.zcl import foundation

MESSAGING_CLUSTER = 0x0703
DISPLAY_MESSAGE = 0x00
"""Display Message, server (the ESME) to client (the IHD)."""
MESSAGE_CONTROL_NORMAL = 0x00
"""Normal transmission, low importance, no confirmation asked."""
DURATION_UNTIL_CHANGED = 0xFFFF
_FIXED = struct.Struct("<IBIH")
_ACTIVATION = re.compile(r"\s*activate\s+(?:fw|firmware)\s+([0-9A-Za-z_\-]+)\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DisplayMessage:
    message_id: int
    text: str
    control: int = MESSAGE_CONTROL_NORMAL
    start_time: int = 0
    """UTCTime; 0 means now."""
    duration_minutes: int = DURATION_UNTIL_CHANGED


def activation_text(image_hash: bytes) -> str:
    """The activation request for the image whose Manufacturer Image has SHA-256 `image_hash`."""
    return "activate fw " + base64.urlsafe_b64encode(image_hash).rstrip(b"=").decode()


def requested_hash(text: str) -> bytes | None:
    """The SHA-256 an activation text names, or None when the text is not one."""
    match = _ACTIVATION.fullmatch(text)
    if match is None:
        return None
    word = match.group(1)
    if len(word) == 64:
        try:
            return bytes.fromhex(word)
        except ValueError:
            return None
    if len(word) == 43:
        try:
            return base64.urlsafe_b64decode(word + "=")
        except (binascii.Error, ValueError):
            return None
    return None


def encode_display_message(tsn: int, message: DisplayMessage) -> bytes:
    """The ZCL frame of a Display Message (no Default Response asked)."""
    header = foundation.ZCLHeader.cluster(
        tsn & 0xFF, DISPLAY_MESSAGE, direction=foundation.Direction.Server_to_Client
    )
    header.frame_control = header.frame_control.replace(disable_default_response=True)
    text = message.text.encode()
    if len(text) > 0xFE:
        raise ValueError("a ZCL string holds at most 254 octets")
    fixed = _FIXED.pack(
        message.message_id, message.control, message.start_time, message.duration_minutes
    )
    return header.serialize() + fixed + bytes((len(text),)) + text


def decode_display_message(zcl: bytes) -> DisplayMessage | None:
    """The Display Message a ZCL frame carries, or None when it carries none (another command,
    the other direction, a short or malformed payload, text that is not UTF-8)."""
    try:
        header, payload = foundation.ZCLHeader.deserialize(zcl)
    except (ValueError, KeyError):
        return None
    fc = header.frame_control
    if (
        not fc.is_cluster
        or fc.is_manufacturer_specific
        or header.direction != foundation.Direction.Server_to_Client
        or header.command_id != DISPLAY_MESSAGE
        or len(payload) < _FIXED.size + 1
    ):
        return None
    message_id, control, start, duration = _FIXED.unpack_from(payload)
    length = payload[_FIXED.size]
    text = payload[_FIXED.size + 1 : _FIXED.size + 1 + length]
    if length == 0xFF or len(text) != length:
        return None
    try:
        decoded = text.decode()
    except UnicodeDecodeError:
        return None
    return DisplayMessage(message_id, decoded, control, start, duration)
