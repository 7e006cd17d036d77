"""`hanemu image build | inspect | verify`: OTA upgrade files from the command line.

Owns option parsing, file reading/writing and presentation (rich tables or JSON lines). The file
format lives in emulator.ota.image and the checks in emulator.ota.verify; nothing here decides
what is valid.
"""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from emulator.cli import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, console
from emulator.cli.params import Int
from emulator.errors import HanemuError, ImageBuildError, InputError
from emulator.files import input_limit, read_input, shown
from emulator.ota.image import (
    FORMATS,
    TAG_NAMES,
    OtaFile,
    build_gb_image,
    build_image,
    parse_eui64,
    parse_image,
)
from emulator.ota.integrity import manufacturer_image_hash
from emulator.ota.verify import Status, integrity_check, verify_file
from emulator.outputs import write_atomic
from emulator.testpki import load_private_key, load_public_key

INT = Int()
_KEY_LIMIT = 1 << 20
"""A PEM key or certificate is a few KiB; anything near this is not one."""


@click.group()
def image() -> None:
    """Build, inspect and verify Zigbee / GB OTA upgrade files."""


@image.command()
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False))
@click.option("--manufacturer-id", required=True, type=INT)
@click.option("--image-type", required=True, type=INT)
@click.option("--file-version", required=True, type=INT)
@click.option("--payload", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--header-string", default="", help="Up to 32 bytes of UTF-8.")
@click.option("--stack-version", default=2, type=INT, show_default=True)
@click.option("--min-hw", type=INT, help="Minimum hardware version (0xVVRR).")
@click.option("--max-hw", type=INT, help="Maximum hardware version (0xVVRR).")
@click.option("--destination", help="Upgrade file destination EUI64 (device-specific file).")
@click.option("--security-credential-version", type=INT)
@click.option("--integrity", is_flag=True, help="Append an Image Integrity Code (tag 0x0003).")
@click.option("--tag", "tags", multiple=True, metavar="TAG:FILE", help="Extra sub-element.")
@click.option(
    "--gb", is_flag=True, help="Build a GB OTA Upgrade Image (payload = Manufacturer Image)."
)
@click.option("--supplier-key", type=click.Path(exists=True, dir_okay=False))
def build(
    output: str,
    manufacturer_id: int,
    image_type: int,
    file_version: int,
    payload: str,
    header_string: str,
    stack_version: int,
    min_hw: int | None,
    max_hw: int | None,
    destination: str | None,
    security_credential_version: int | None,
    integrity: bool,
    tags: tuple[str, ...],
    gb: bool,
    supplier_key: str | None,
) -> None:
    """Build an OTA upgrade file from a payload."""
    body = read_input(payload)
    if gb:
        if min_hw is None or max_hw is None:
            raise ImageBuildError("a GB OTA Upgrade Image needs --min-hw and --max-hw")
        for name, given in (
            ("--integrity", integrity),
            ("--tag", tags),
            ("--destination", destination),
            ("--security-credential-version", security_credential_version is not None),
        ):
            if given:
                raise ImageBuildError(f"{name} does not apply to a GB image (it has no tags)")
        key = None
        if supplier_key is not None:
            key = load_private_key(_read_key(supplier_key), source=shown(supplier_key))
        data = build_gb_image(
            body,
            manufacturer_id=manufacturer_id,
            image_type=image_type,
            file_version=file_version,
            min_hw=min_hw,
            max_hw=max_hw,
            header_string=header_string,
            supplier_key=key,
        )
    else:
        if supplier_key is not None:
            raise ImageBuildError("--supplier-key signs GB images: add --gb")
        data = build_image(
            body,
            manufacturer_id=manufacturer_id,
            image_type=image_type,
            file_version=file_version,
            header_string=header_string,
            stack_version=stack_version,
            min_hw=min_hw,
            max_hw=max_hw,
            destination=parse_eui64(destination) if destination is not None else None,
            security_credential_version=security_credential_version,
            tags=[_tag_option(spec) for spec in tags],
            integrity=integrity,
        )
    try:
        write_atomic(output, data)  # whole or not at all
    except OSError as exc:  # a failed write names no file: name it
        raise OSError(exc.errno, exc.strerror, output) from None
    click.echo(f"wrote {output} ({len(data)} bytes)")


def _tag_option(spec: str) -> tuple[int, bytes]:
    tag_text, sep, path = spec.partition(":")
    if not sep or not path:
        raise ImageBuildError(f"--tag {spec!r}: expected TAG:FILE, e.g. 0xF000:extra.bin")
    try:
        tag = int(tag_text, 0)
    except ValueError:
        raise ImageBuildError(f"--tag {spec!r}: {tag_text!r} is not an integer") from None
    return tag, read_input(path)


def _read_key(path: str) -> bytes:
    return read_input(path, limit=_KEY_LIMIT, what="key file", adjustable=False)


def describe(path: str, ota: OtaFile) -> dict[str, object]:
    """The JSON object `image inspect --json` prints for one file."""
    out: dict[str, object] = {
        "path": path,
        "format": ota.format,
        "containers": list(ota.containers),
        "header": ota.header.to_json(),
        "subelements": [
            {"tag": e.tag, "offset": e.offset, "length": e.length} for e in ota.subelements
        ],
    }
    # Only the integrity code is shown here: the other checks (SE digest, GB signature) are
    # verify's, and a GB body has no tags, hence no integrity element.
    integrity = integrity_check(ota)
    present = integrity.status is not Status.ABSENT
    out["integrity"] = {
        "present": present,
        "valid": (integrity.status is Status.VALID) if present else None,
        **({"detail": integrity.detail} if present else {}),
    }
    if ota.gb is not None:
        out["manufacturer_image_offset"] = ota.gb.manufacturer_image_offset
        out["manufacturer_image_length"] = ota.gb.manufacturer_image_length
        out["manufacturer_image_hash"] = manufacturer_image_hash(ota.manufacturer_image).hex()
        out["signature_present"] = ota.gb.signature is not None
    out["warnings"] = list(ota.warnings)
    return out


@image.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per file.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--strict", is_flag=True, help="Refuse inconsistencies instead of warning.")
def inspect(files: tuple[str, ...], as_json: bool, fmt: str, strict: bool) -> None:
    """Show what an OTA file holds. Exit 2 if any file cannot be read or parsed."""
    failed = False
    out = console()
    limit = input_limit()  # a bad HANEMU_MAX_INPUT_BYTES is said once, not once per file
    for path in files:
        try:
            data = read_input(path, limit=limit, what="OTA file")
            ota = parse_image(data, format=fmt, strict=strict)
        except HanemuError as exc:
            failed = True
            message = exc.what if isinstance(exc, InputError) else str(exc)
            if as_json:  # the JSON line for programs, the error line for people, as without --json
                click.echo(json.dumps({"path": path, "error": message}))
            click.echo(f"error: {shown(path)}: {message}", err=True)
            continue
        summary = describe(path, ota)
        if as_json:
            click.echo(json.dumps(summary))
        else:
            _print_summary(out, summary)
    if failed:
        sys.exit(EXIT_BAD_INPUT)


_DECIMAL_FIELDS = {"header_length", "image_size", "security_credential_version"}


def _hex(value: object) -> str:
    return f"{value:#06x}" if isinstance(value, int) else str(value)


def _print_summary(out: Console, summary: dict) -> None:
    # Paths, header strings and warnings come from the user's files: Text is never read as markup.
    table = Table(title=Text(f"{summary['path']} ({summary['format']})"), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in summary["header"].items():
        table.add_row(key, Text(str(value) if key in _DECIMAL_FIELDS else _hex(value)))
    for element in summary["subelements"]:
        name = TAG_NAMES.get(element["tag"], "manufacturer specific")
        table.add_row(
            f"tag {element['tag']:#06x}",
            f"{name}: {element['length']} bytes at offset {element['offset']}",
        )
    integrity = summary["integrity"]
    if integrity["present"]:
        table.add_row(
            "integrity",
            f"{'valid' if integrity['valid'] else 'INVALID'} ({integrity.get('detail', '')})",
        )
    if "manufacturer_image_hash" in summary:
        table.add_row(
            "manufacturer image",
            f"{summary['manufacturer_image_length']} bytes at offset "
            f"{summary['manufacturer_image_offset']}",
        )
        table.add_row("manufacturer image hash", summary["manufacturer_image_hash"])
        table.add_row("supplier signature", "present" if summary["signature_present"] else "none")
    for warning in summary["warnings"]:
        table.add_row("[yellow]warning[/]", Text(warning))
    out.print(table)


@image.command()
@click.argument("file")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--supplier-key", type=click.Path(dir_okay=False), help="PEM key (public part used).")
@click.option("--supplier-cert", type=click.Path(dir_okay=False), help="PEM certificate.")
@click.option("--hash", "expected_hash", help="Expected Manufacturer Image Hash (64 hex digits).")
@click.option("--strict", is_flag=True, help="Refuse inconsistencies instead of warning.")
def verify(
    file: str,
    fmt: str,
    supplier_key: str | None,
    supplier_cert: str | None,
    expected_hash: str | None,
    strict: bool,
) -> None:
    """Check everything checkable. Exit 0 all valid, 1 a check failed, 2 unreadable."""
    if supplier_key and supplier_cert:
        raise click.UsageError("give --supplier-key or --supplier-cert, not both")
    digest = None
    if expected_hash is not None:
        try:
            digest = bytes.fromhex(expected_hash)
        except ValueError:
            raise click.BadParameter("not hex", param_hint="--hash") from None
        if len(digest) != 32:
            raise click.BadParameter(
                f"{len(digest)} bytes; a SHA-256 hash is 32", param_hint="--hash"
            )
    key = None
    key_path = supplier_key or supplier_cert
    if key_path is not None:
        key = load_public_key(_read_key(key_path), source=shown(key_path))
    data = read_input(file, what="OTA file")
    try:
        ota = parse_image(data, format=fmt, strict=strict)
    except HanemuError as exc:
        click.echo(f"error: {shown(file)}: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    report = verify_file(ota, supplier_public_key=key, expected_hash=digest)
    for check in report.checks:
        click.echo(check.line())
    for warning in ota.warnings:
        click.echo(f"warning: {warning}")
    if not report.ok:
        click.echo(f"{file}: INVALID: {report.reason}", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    click.echo(f"{file}: OK")
