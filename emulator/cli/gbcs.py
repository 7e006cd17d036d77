"""`hanemu gbcs decode | verify`: GBCS messages from the command line.

Owns reading a message (hex on the command line, or a file holding hex text or raw bytes) and
presenting it; framing, payloads and signature checks live in emulator.gbcs. Exit statuses:
0 verified / decoded, 1 signature does not verify, 2 input cannot be parsed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import string
from pathlib import Path
from typing import Any

import click

from emulator.cli import EXIT_CHECK_FAILED
from emulator.errors import GbcsFormatError
from emulator.files import read_input, shown
from emulator.gbcs.frame import Frame, decode_frame
from emulator.gbcs.messages import MESSAGE_NAMES, decode_payload
from emulator.gbcs.security import verify_signature
from emulator.testpki import load_public_key

_HEX = set(string.hexdigits) | set(" \t\r\n:")
_KEY_LIMIT = 1 << 20
"""A PEM key or certificate is a few KiB; anything near this is not one."""


@click.group()
def gbcs() -> None:
    """Decode GBCS messages and check their KRP signatures."""


@gbcs.command()
@click.argument("message")
@click.option("--json", "as_json", is_flag=True, help="Print the decoded message as JSON.")
def decode(message: str, as_json: bool) -> None:
    """Show the grouping header, decoded payload and security of MESSAGE (hex or a file)."""
    frame = decode_frame(read_message(message))
    data = describe(frame)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for inner, shown in value.items():
                click.echo(f"  {inner} = {shown}")
        else:
            click.echo(f"{key} = {value}")


@gbcs.command()
@click.argument("message")
@click.option("--supplier-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--supplier-key", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.pass_context
def verify(
    ctx: click.Context, message: str, supplier_cert: Path | None, supplier_key: Path | None
) -> None:
    """Check MESSAGE's KRP signature with a supplier certificate or key.

    Exit 0 when it verifies, 1 when it does not (or there is none), 2 when MESSAGE is unparseable.
    """
    if (supplier_cert is None) == (supplier_key is None):
        raise click.UsageError("give exactly one of --supplier-cert or --supplier-key")
    pem_path = supplier_cert or supplier_key
    assert pem_path is not None
    pem = read_input(pem_path, limit=_KEY_LIMIT, what="key file")
    public_key = load_public_key(pem, source=shown(pem_path))
    frame = decode_frame(read_message(message))
    if frame.signature is None:
        click.echo("no signature: the message is not signed (signature length 0)")
        ctx.exit(EXIT_CHECK_FAILED)
    if verify_signature(frame, public_key):
        click.echo(f"signature verifies with {pem_path}")
        return
    click.echo(f"signature does NOT verify with {pem_path}")
    ctx.exit(EXIT_CHECK_FAILED)


def read_message(argument: str) -> bytes:
    """The message bytes: a file (hex text or raw bytes) if one exists, else hex text.

    Something that exists but is no regular file (a directory, a FIFO, a device) is refused."""
    path = Path(argument)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # e.g. a long hex string is not a valid file name
        exists = False
    if exists:
        raw = read_input(path)
        text = raw.decode("ascii", errors="replace")
        if raw and set(text) <= _HEX:
            return _unhex(text, str(path))
        return raw
    return _unhex(argument, "argument")


def _unhex(text: str, source: str) -> bytes:
    cleaned = "".join(c for c in text if c not in " \t\r\n:")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        bad = next(
            (i for i, c in enumerate(cleaned) if c not in string.hexdigits), len(cleaned) - 1
        )
        raise GbcsFormatError(
            f"{source}: not a file and not hex", field="input", offset=bad // 2
        ) from None


def describe(frame: Frame) -> dict[str, Any]:
    """JSON-ready view of a frame: header fields, decoded payload, signature and MAC presence."""
    header = frame.header
    payload = decode_payload(
        header.message_code, header.cra, frame.payload, base=frame.payload_offset()
    )
    return {
        "envelope": "general-ciphering" if frame.mac is not None else "general-signing",
        "cra_flag": header.cra.name.lower(),
        "message_code": f"0x{header.message_code:04X}",
        "message": MESSAGE_NAMES.get(header.message_code, "unknown"),
        "originator_counter": header.counter,
        "originator": header.originator.hex().upper(),
        "recipient": header.recipient.hex().upper(),
        "date_time": None if header.date_time is None else header.date_time.hex().upper(),
        "other_info_extra": header.other_info_extra.hex().upper() or None,
        "payload_type": type(payload).__name__ if payload is not None else None,
        "payload": _plain(payload) if payload is not None else {"raw": frame.payload.hex().upper()},
        "signature_present": frame.signature is not None,
        "mac_present": frame.mac is not None,
    }


def _plain(value: Any, key: str = "") -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if key == "alert_code" and isinstance(value, int):
        return f"0x{value:04X}"
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else value
