"""`hanemu inventory ...`: the firmware inventory runs keep (`home run --inventory DB`).

This module owns showing an inventory: one line per activation, or JSON. Reading and checking
the database is `emulator.inventory`'s (a missing file, a directory, FIFO or device, a file that
is no SQLite database or one without the inventory's table: one line, exit 2). It never changes
a row of the database.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from emulator.inventory import Activation, read_inventory

HEADER = ("home", "seed", "t (s)", "device", "device id", "type", "profile", "route",
          "supplier", "version")  # fmt: skip


@click.group()
def inventory() -> None:
    """The firmware inventory: which firmware each device runs, one row per activation."""


def _cells(row: Activation) -> tuple[str, ...]:
    return (
        row.home,
        str(row.seed),
        f"{row.t:.3f}",
        row.device,
        row.device_id,
        row.device_type or "-",
        row.profile or "-",
        row.route or "-",
        row.supplier or "-",
        f"{row.file_version:08X}",
    )


def _printable(text: str) -> str:
    """A cell from a file on one line: anything unprintable shown escaped."""
    return text if text.isprintable() else repr(text)[1:-1]


@inventory.command("show")
@click.argument("db", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON array.")
def show(db: Path, as_json: bool) -> None:
    """List the inventory DB: one line per activation, in the order recorded (the version the
    device's flash really ran after the switch, in hex).

    Exit status 0, or 2 when DB is missing or is no hanemu inventory."""
    rows = read_inventory(db)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in rows], indent=2))
        return
    table = [HEADER, *(tuple(map(_printable, _cells(r))) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    for line in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
