"""`hanemu gbcs decode | verify`: GBCS messages from the command line.

Owns reading a message (hex on the command line, or a file holding hex text or raw bytes) and
the keys `verify` is given, and presenting what was found; framing, payloads and the signature
and MAC checks live in emulator.gbcs. Exit statuses: 0 decoded / every check given a key holds,
1 a check fails (invalid, or absent when a key asked for it), 2 input that cannot be read or
parsed (one line naming the file, the field and the offset in the message's bytes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.cli import EXIT_CHECK_FAILED
from emulator.errors import GbcsFormatError
from emulator.files import read_input, shown
from emulator.gbcs.frame import TAG_GENERAL_CIPHERING, TAG_GENERAL_SIGNING, Frame, decode_frame
from emulator.gbcs.messages import MESSAGE_NAMES, Payload, decode_payload
from emulator.gbcs.security import derive_mac_key, verify_mac, verify_signature
from emulator.testpki import load_private_key, load_public_key

_SEPARATORS = str.maketrans("", "", " \t\r\n:")
"""What hex text may hold between its digits."""
_NOT_HEX = re.compile(r"[^0-9A-Fa-f \t\r\n:]")
_TEXT_BYTES = bytes(range(0x20, 0x7F)) + b"\t\r\n"
"""A file of nothing but these bytes is text, so it is read as hex."""
_UTF8_BOM = b"\xef\xbb\xbf"
_KEY_LIMIT = 1 << 20
"""A PEM key or certificate is a few KiB; anything near this is not one."""
_SHOWN_ARGUMENT = 40
"""How much of a message given on the command line an error repeats."""
_HEX_KEYS = {"cluster": 4, "attribute": 4, "control": 2, "invoke_id_and_priority": 8}
"""Payload fields shown as hex numbers (value: digits)."""


@click.group()
def gbcs() -> None:
    """Decode GBCS messages and check their KRP signatures and MACs."""


@gbcs.command()
@click.argument("message")
@click.option("--json", "as_json", is_flag=True, help="Print the decoded message as JSON.")
def decode(message: str, as_json: bool) -> None:
    """Show the grouping header, decoded payload and security of MESSAGE (hex or a file)."""
    data_bytes, source = read_message(message)
    frame = _decode(data_bytes, source)
    data = describe(frame, source)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for inner, text in value.items():
                click.echo(f"  {inner} = {text}")
        else:
            click.echo(f"{key} = {value}")


class Result(enum.Enum):
    """What one check of `gbcs verify` found."""

    VALID = "valid"
    INVALID = "invalid"
    ABSENT = "absent"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    result: Result
    present: bool
    detail: str

    @property
    def failed(self) -> bool:
        """A check given a key fails when it is invalid or has nothing to check."""
        return self.result in (Result.INVALID, Result.ABSENT)

    def line(self) -> str:
        return f"{self.name}: {self.result.value} ({self.detail})"

    def as_json(self) -> dict[str, Any]:
        return {"result": self.result.value, "present": self.present, "detail": self.detail}


@gbcs.command()
@click.argument("message")
@click.option(
    "--supplier-cert",
    metavar="PEM",
    help="The signer's certificate (the supplier for a command): checks the signature.",
)
@click.option(
    "--supplier-key",
    metavar="PEM",
    help="The signer's public or private key instead (only its public part is used).",
)
@click.option(
    "--ka-key",
    metavar="PEM",
    help="One party's key-agreement private key: with --peer-cert, checks the MAC.",
)
@click.option(
    "--peer-cert",
    metavar="PEM",
    help="The other party's key-agreement certificate or public key.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as one JSON object.")
def verify(
    message: str,
    supplier_cert: str | None,
    supplier_key: str | None,
    ka_key: str | None,
    peer_cert: str | None,
    as_json: bool,
) -> None:
    """Check MESSAGE's signature and MAC (each valid, invalid, absent or not checked).

    MESSAGE is hex, or a file of hex text or raw bytes. The signature needs --supplier-cert or
    --supplier-key: the supplier's (KRP) on a command, the device's on a response or alert. The
    MAC needs --ka-key and --peer-cert: the two parties' key-agreement keys (the ACB or the
    originator and the device), either way round. Exit 0 when every check given a key holds,
    1 when one is invalid or the message carries none to check, 2 when an input cannot be read
    (a payload that does not decode included: a signature over it proves nothing a device would
    act on).
    """
    if supplier_cert is not None and supplier_key is not None:
        raise click.UsageError("give --supplier-cert or --supplier-key, not both")
    if (ka_key is None) != (peer_cert is None):
        raise click.UsageError("--ka-key and --peer-cert go together (the MAC needs both)")
    supplier_path = supplier_cert or supplier_key
    if supplier_path is None and ka_key is None:
        raise click.UsageError(
            "nothing to check: give --supplier-cert or --supplier-key (signature), "
            "--ka-key with --peer-cert (MAC), or both"
        )
    supplier = None if supplier_path is None else _public_key(supplier_path)
    agreement = None
    if ka_key is not None and peer_cert is not None:
        agreement = (_private_key(ka_key), _public_key(peer_cert))
    data_bytes, source = read_message(message)
    frame = _decode(data_bytes, source)
    # A payload no device could read is no message to call OK, whatever signs it.
    _payload(frame, source)
    checks = (
        _signature_check(frame, supplier, supplier_path),
        _mac_check(frame, agreement, ka_key, peer_cert),
    )
    failed = [check for check in checks if check.failed]
    if as_json:
        summary = _summary(frame, source)
        summary.update({check.name: check.as_json() for check in checks})
        summary["ok"] = not failed
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"message: {_one_line(frame)}")
        for check in checks:
            click.echo(check.line())
        if not failed:
            click.echo(f"{source}: OK")
    if failed:
        reason = "; ".join(f"{check.name} {check.result.value}" for check in failed)
        click.echo(f"{source}: INVALID: {reason}", err=True)
        sys.exit(EXIT_CHECK_FAILED)


def _public_key(path: str) -> ec.EllipticCurvePublicKey:
    """The P-256 public key in a PEM certificate, public key or private key a user named."""
    pem = read_input(path, limit=_KEY_LIMIT, what="PEM file", adjustable=False)
    return load_public_key(pem, source=shown(path))


def _private_key(path: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key in a PEM file a user named."""
    pem = read_input(path, limit=_KEY_LIMIT, what="PEM file", adjustable=False)
    return load_private_key(pem, source=shown(path))


def _signature_check(
    frame: Frame, key: ec.EllipticCurvePublicKey | None, path: str | None
) -> CheckResult:
    present = frame.signature is not None
    if key is None:
        held = "the message carries one" if present else "the message carries none"
        return CheckResult("signature", Result.NOT_CHECKED, present, f"no supplier key; {held}")
    if not present:
        why = "a pre-command is unsigned" if frame.pre_command else "signature length 00"
        return CheckResult("signature", Result.ABSENT, False, f"{why}; {path} had nothing to check")
    valid = verify_signature(frame, key)
    return CheckResult(
        "signature",
        Result.VALID if valid else Result.INVALID,
        True,
        f"ECDSA P-256 over the grouping header and payload, {path}",
    )


def _mac_check(
    frame: Frame,
    keys: tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey] | None,
    ka_path: str | None,
    peer_path: str | None,
) -> CheckResult:
    present = frame.mac is not None
    if keys is None:
        held = "the message carries one" if present else "the message carries none"
        return CheckResult("mac", Result.NOT_CHECKED, present, f"no key-agreement keys; {held}")
    if not present:
        why = "a pre-command" if frame.pre_command else "no general-ciphering envelope"
        return CheckResult("mac", Result.ABSENT, False, f"{why}; the keys had nothing to check")
    mac_key = derive_mac_key(keys[0], keys[1], frame.header)
    valid = verify_mac(frame, mac_key)
    return CheckResult(
        "mac",
        Result.VALID if valid else Result.INVALID,
        True,
        f"GMAC, key from ECDH({ka_path}, {peer_path}) and the SP800-56A KDF",
    )


def read_message(argument: str) -> tuple[bytes, str]:
    """(message bytes, how errors name where they came from): a file if one exists, else hex
    text given on the command line.

    A file starting with 0xDF or 0xDD (the two tags a message can start with) is raw bytes; a
    file of printable text is hex (spaces, newlines and colons allowed); anything else is raw
    bytes, which then fail to decode at offset 0. Something that exists but is no regular file
    (a directory, a FIFO, a device) is refused."""
    path = Path(argument)
    try:
        exists = bool(argument) and path.exists()  # Path("") is the current directory
    except (OSError, ValueError):  # e.g. a long hex string is not a valid file name
        exists = False
    if exists:
        name = shown(argument)
        raw = read_input(argument, what="GBCS message")
        if raw.startswith(_UTF8_BOM) and not raw[len(_UTF8_BOM) :].translate(None, _TEXT_BYTES):
            raw = raw[len(_UTF8_BOM) :]  # hex text saved by an editor that marks UTF-8
        if raw[:1] in (bytes((TAG_GENERAL_SIGNING,)), bytes((TAG_GENERAL_CIPHERING,))):
            return raw, name
        if raw and not raw.translate(None, _TEXT_BYTES):
            return _unhex(raw.decode("ascii"), name, "not hex"), name
        return raw, name
    short = argument if len(argument) <= _SHOWN_ARGUMENT else argument[:_SHOWN_ARGUMENT] + "..."
    return _unhex(argument, shown(short), "not a file and not hex"), "hex argument"


def _unhex(text: str, source: str, what: str) -> bytes:
    """The bytes of hex `text`; an error gives the offset of the fault in `text` itself."""
    try:
        return bytes.fromhex(text.translate(_SEPARATORS))
    except ValueError:
        pass
    bad = _NOT_HEX.search(text)
    if bad is not None:
        raise GbcsFormatError(
            f"{source}: {what}: {bad.group()!r} is no hex digit", field="input", offset=bad.start()
        )
    digits = len(text.translate(_SEPARATORS))
    raise GbcsFormatError(
        f"{source}: {what}: an odd number of hex digits ({digits})",
        field="input",
        offset=len(text.rstrip(" \t\r\n:")) - 1,
    )


def _decode(data: bytes, source: str) -> Frame:
    """The frame in `data`; an error names `source` (the file, or the argument) first."""
    try:
        return decode_frame(data)
    except GbcsFormatError as exc:
        raise GbcsFormatError(f"{source}: {exc.what}", field=exc.field, offset=exc.offset) from None


def _payload(frame: Frame, source: str) -> Payload | None:
    header = frame.header
    try:
        return decode_payload(
            header.message_code, header.cra, frame.payload, base=frame.payload_offset()
        )
    except GbcsFormatError as exc:
        raise GbcsFormatError(f"{source}: {exc.what}", field=exc.field, offset=exc.offset) from None


def _envelope(frame: Frame) -> str:
    if frame.pre_command:
        return "pre-command"
    return "general-ciphering" if frame.mac is not None else "general-signing"


def _summary(frame: Frame, source: str) -> dict[str, Any]:
    header = frame.header
    return {
        "source": source,
        "envelope": _envelope(frame),
        "pre_command": frame.pre_command,
        "cra_flag": header.cra.name.lower(),
        "message_code": f"0x{header.message_code:04X}",
        "message": MESSAGE_NAMES.get(header.message_code, "unknown"),
        "originator_counter": header.counter,
        "originator": header.originator.hex().upper(),
        "recipient": header.recipient.hex().upper(),
    }


def _one_line(frame: Frame) -> str:
    header = frame.header
    name = MESSAGE_NAMES.get(header.message_code, "unknown message")
    kind = "pre-command" if frame.pre_command else header.cra.name.lower()
    return (
        f"{name} (0x{header.message_code:04X}) {kind} from {header.originator.hex().upper()} "
        f"to {header.recipient.hex().upper()}, counter {header.counter}"
    )


def describe(frame: Frame, source: str = "message") -> dict[str, Any]:
    """JSON-ready view of a frame: header fields, decoded payload, signature and MAC presence."""
    header = frame.header
    payload = _payload(frame, source)
    out = _summary(frame, source)
    del out["source"]
    out.update(
        {
            "date_time": None if header.date_time is None else header.date_time.hex().upper(),
            "other_info_extra": header.other_info_extra.hex().upper() or None,
            "payload_type": type(payload).__name__ if payload is not None else None,
            "payload": _plain(payload)
            if payload is not None
            else {"raw": frame.payload.hex().upper()},
            "signature_present": frame.signature is not None,
            "mac_present": frame.mac is not None,
        }
    )
    return out


def _plain(value: Any, key: str = "") -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if key == "attributes" and isinstance(value, tuple):
        return [f"0x{item:04X}" for item in value]
    if key == "alert_code" and isinstance(value, int):
        return f"0x{value:04X}"
    if key in _HEX_KEYS and isinstance(value, int):
        return f"0x{value:0{_HEX_KEYS[key]}X}"
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else value
