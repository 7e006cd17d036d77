"""GBCS message framing: the general-signing grouping header, signature and MAC envelope.

Layout (shared/spec/gb-firmware.md §4.4 and §4.6)::

    general ciphering (MAC'd commands only):
        DD 00 00 00 00 00 00 | length | security header 11 00000000 | general signing | MAC (12)
    general signing:
        DF | 09 CRA-flag counter(8) | 08 originator(8) | 08 recipient(8)
           | date-time (00 = absent, or 0C + 12 octets) | other-info length, message code [+ extra]
           | content length | payload | signature length (00 or 40) | signature (64)
    pre-command (a command before the Remote Party signs it and the DCC adds the MAC):
        general signing, ending right after the payload (no signature length, no signature)

A general-signing message that ends exactly where its payload ends is a pre-command (§4.5, the
RTDS `*_PRECOMMAND` vectors); only a command (CRA flag 1) can be one, so a response or alert cut
there is truncated. `GroupingHeader` and `Frame` are plain data; `Frame.encode` and
`decode_frame` are exact inverses and raise `GbcsFormatError` with the field and offset. This
module owns bytes only: it never signs, verifies or decides anything, and never touches files or
time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from emulator.errors import GbcsFormatError
from emulator.gbcs.der import decode_length, encode_length

TAG_GENERAL_SIGNING = 0xDF
TAG_GENERAL_CIPHERING = 0xDD
GENERAL_CIPHERING_PREFIX = bytes((TAG_GENERAL_CIPHERING, 0, 0, 0, 0, 0, 0))
SECURITY_HEADER = bytes.fromhex("1100000000")  # security control 0x11, invocation counter 0
MAC_LENGTH = 12
SIGNATURE_LENGTH = 64
ENTITY_ID_LENGTH = 8
DATE_TIME_LENGTH = 12
COUNTER_MAX = (1 << 64) - 1


class Cra(enum.IntEnum):
    """The CRA flag: what kind of message this is."""

    COMMAND = 1
    RESPONSE = 2
    ALERT = 3


@dataclass(frozen=True, slots=True)
class GroupingHeader:
    """The fields of a general-signing grouping header (content length is derived)."""

    cra: Cra
    counter: int
    originator: bytes
    recipient: bytes
    message_code: int
    date_time: bytes | None = None
    """The 12-octet DLMS date-time, or None when absent (encoded 00)."""
    other_info_extra: bytes = b""
    """Octets after the message code in other-information (supplementary remote party id...)."""

    def encode(self, content_length: int) -> bytes:
        """Header bytes for a payload of `content_length` octets (DF tag first)."""
        if not 0 <= self.counter <= COUNTER_MAX:
            raise GbcsFormatError("counter must fit 8 octets", field="counter")
        for name, value in (("originator", self.originator), ("recipient", self.recipient)):
            if len(value) != ENTITY_ID_LENGTH:
                raise GbcsFormatError(f"{name} id must be 8 octets", field=name)
        if not 0 <= self.message_code <= 0xFFFF:
            raise GbcsFormatError("message code must fit 2 octets", field="message_code")
        if self.date_time is None:
            date_time = b"\x00"
        elif len(self.date_time) == DATE_TIME_LENGTH:
            date_time = bytes((DATE_TIME_LENGTH,)) + self.date_time
        else:
            raise GbcsFormatError("date-time must be 12 octets", field="date_time")
        other_info = self.message_code.to_bytes(2, "big") + self.other_info_extra
        return b"".join(
            (
                bytes((TAG_GENERAL_SIGNING, 9, int(self.cra))),
                self.counter.to_bytes(8, "big"),
                bytes((ENTITY_ID_LENGTH,)) + self.originator,
                bytes((ENTITY_ID_LENGTH,)) + self.recipient,
                date_time,
                encode_length(len(other_info)) + other_info,
                encode_length(content_length),
            )
        )

    @property
    def transaction_id(self) -> bytes:
        """CRA flag followed by the 8-octet originator counter."""
        return bytes((int(self.cra),)) + self.counter.to_bytes(8, "big")


@dataclass(frozen=True, slots=True)
class Frame:
    """A whole GBCS message: header, DER payload, optional signature and optional MAC.

    `pre_command` marks a pre-command: a command that ends after its payload, with neither
    signature length, signature nor MAC (so `signature` and `mac` are None).
    """

    header: GroupingHeader
    payload: bytes
    signature: bytes | None = None
    mac: bytes | None = None
    pre_command: bool = False

    def header_bytes(self) -> bytes:
        return self.header.encode(len(self.payload))

    def signed_data(self) -> bytes:
        """What a KRP or device signature covers: grouping header without its tag, payload."""
        return self.header_bytes()[1:] + self.payload

    def to_pre_command(self) -> Frame:
        """This command's pre-command: the same header and payload, no signature, no MAC."""
        return Frame(self.header, self.payload, pre_command=True)

    def general_signing(self) -> bytes:
        """The general-signing APDU: header, payload, signature length and signature (a
        pre-command stops after the payload)."""
        if self.pre_command:
            self._check_pre_command()
            return self.header_bytes() + self.payload
        if self.signature is None:
            trailer = b"\x00"
        elif len(self.signature) == SIGNATURE_LENGTH:
            trailer = bytes((SIGNATURE_LENGTH,)) + self.signature
        else:
            raise GbcsFormatError("signature must be 64 octets", field="signature")
        return self.header_bytes() + self.payload + trailer

    def _check_pre_command(self) -> None:
        if self.header.cra is not Cra.COMMAND:
            raise GbcsFormatError(
                f"only a command can be a pre-command, not a {self.header.cra.name.lower()}",
                field="pre_command",
            )
        if self.signature is not None or self.mac is not None:
            raise GbcsFormatError(
                "a pre-command carries no signature and no MAC", field="pre_command"
            )

    def payload_offset(self) -> int:
        """Offset of the payload in `encode()`'s bytes (for error offsets)."""
        before = len(self.header_bytes())
        if self.mac is None:
            return before
        ciphered = len(SECURITY_HEADER) + len(self.general_signing()) + MAC_LENGTH
        return (
            len(GENERAL_CIPHERING_PREFIX)
            + len(encode_length(ciphered))
            + len(SECURITY_HEADER)
            + before
        )

    def encode(self) -> bytes:
        """Wire bytes: the general-signing APDU, wrapped in general ciphering when MAC'd."""
        signing = self.general_signing()
        if self.mac is None:
            return signing
        if len(self.mac) != MAC_LENGTH:
            raise GbcsFormatError("MAC must be 12 octets", field="mac")
        ciphered = SECURITY_HEADER + signing + self.mac
        return GENERAL_CIPHERING_PREFIX + encode_length(len(ciphered)) + ciphered


def decode_frame(data: bytes) -> Frame:
    """The `Frame` in `data` (general signing, or general ciphering around it, or a pre-command),
    all bytes used."""
    data = bytes(data)
    if not data:
        raise GbcsFormatError("empty message", field="tag", offset=0)
    if data[0] == TAG_GENERAL_SIGNING:
        frame, end = _decode_general_signing(data, 0, pre_command_allowed=True)
        if end != len(data):
            raise GbcsFormatError(
                f"{len(data) - end} byte(s) after the signature", field="trailer", offset=end
            )
        return frame
    if data[0] != TAG_GENERAL_CIPHERING:
        raise GbcsFormatError(
            f"expected 0xDF or 0xDD, found 0x{data[0]:02X}", field="tag", offset=0
        )
    prefix = len(GENERAL_CIPHERING_PREFIX)
    if data[:prefix] != GENERAL_CIPHERING_PREFIX:
        bad = next(i for i in range(1, prefix) if i >= len(data) or data[i])
        raise GbcsFormatError(
            "general-ciphering header must be DD 00 00 00 00 00 00",
            field="general_ciphering",
            offset=bad,
        )
    length, start = decode_length(data, prefix, "ciphered_length")
    if start + length != len(data):
        raise GbcsFormatError(
            f"ciphered length {length} does not match the {len(data) - start} byte(s) present",
            field="ciphered_length",
            offset=prefix,
        )
    if data[start : start + len(SECURITY_HEADER)] != SECURITY_HEADER:
        raise GbcsFormatError(
            "security header must be 11 00 00 00 00", field="security_header", offset=start
        )
    body = start + len(SECURITY_HEADER)
    if body >= len(data) or data[body] != TAG_GENERAL_SIGNING:
        raise GbcsFormatError("expected general signing (0xDF)", field="tag", offset=body)
    frame, end = _decode_general_signing(
        data[: len(data) - MAC_LENGTH], body, pre_command_allowed=False
    )
    if len(data) - end != MAC_LENGTH:
        raise GbcsFormatError(
            f"expected a {MAC_LENGTH}-octet MAC, found {len(data) - end}", field="mac", offset=end
        )
    return Frame(frame.header, frame.payload, frame.signature, data[end:])


def _decode_general_signing(
    data: bytes, pos: int, *, pre_command_allowed: bool
) -> tuple[Frame, int]:
    """(frame without MAC, end offset) for the general-signing APDU starting at `pos`.

    With `pre_command_allowed`, a command whose data ends right after its payload is a
    pre-command; inside general ciphering (MAC'd) the signature length is always there."""

    def take(count: int, field: str) -> bytes:
        nonlocal pos
        if pos + count > len(data):
            raise GbcsFormatError(f"truncated: {count} octet(s) needed", field=field, offset=pos)
        out = data[pos : pos + count]
        pos += count
        return out

    def expect(value: int, field: str) -> None:
        at = pos
        got = take(1, field)[0]
        if got != value:
            raise GbcsFormatError(
                f"expected 0x{value:02X}, found 0x{got:02X}", field=field, offset=at
            )

    def optional(size: int, field: str, what: str) -> bytes | None:
        """A field behind a one-octet length that is either 0 (absent) or exactly `size`."""
        at = pos
        length = take(1, f"{field}_length")[0]
        if length == 0:
            return None
        if length != size:
            raise GbcsFormatError(
                f"{what} length must be 0 or {size}, got {length}",
                field=f"{field}_length",
                offset=at,
            )
        return take(size, field)

    expect(TAG_GENERAL_SIGNING, "tag")
    expect(9, "transaction_id_length")
    cra_at = pos
    cra_value = take(1, "cra_flag")[0]
    try:
        cra = Cra(cra_value)
    except ValueError:
        raise GbcsFormatError(
            f"unknown CRA flag {cra_value}", field="cra_flag", offset=cra_at
        ) from None
    counter = int.from_bytes(take(8, "counter"), "big")
    expect(ENTITY_ID_LENGTH, "originator_length")
    originator = take(ENTITY_ID_LENGTH, "originator")
    expect(ENTITY_ID_LENGTH, "recipient_length")
    recipient = take(ENTITY_ID_LENGTH, "recipient")
    date_time = optional(DATE_TIME_LENGTH, "date_time", "date-time")
    oi_at = pos
    oi_length, pos = decode_length(data, pos, "other_info_length")
    if oi_length < 2:
        raise GbcsFormatError(
            f"other-information must hold a 2-octet message code, length {oi_length}",
            field="other_info_length",
            offset=oi_at,
        )
    other_info = take(oi_length, "other_info")
    content_at = pos
    content_length, pos = decode_length(data, pos, "content_length")
    if pos + content_length > len(data):
        raise GbcsFormatError(
            f"content length {content_length} runs past the end of the message",
            field="content_length",
            offset=content_at,
        )
    payload = take(content_length, "payload")
    pre_command = pos == len(data)
    if pre_command and not (pre_command_allowed and cra is Cra.COMMAND):
        why = (
            "a MAC'd message always has one"
            if not pre_command_allowed
            else f"a {cra.name.lower()} cannot be a pre-command, which ends after its payload"
        )
        raise GbcsFormatError(
            f"truncated: the signature length is missing ({why})",
            field="signature_length",
            offset=pos,
        )
    signature = None if pre_command else optional(SIGNATURE_LENGTH, "signature", "signature")
    header = GroupingHeader(
        cra=cra,
        counter=counter,
        originator=originator,
        recipient=recipient,
        message_code=int.from_bytes(other_info[:2], "big"),
        date_time=date_time,
        other_info_extra=other_info[2:],
    )
    return Frame(header, payload, signature, pre_command=pre_command), pos
