"""`hanemu profiles list | show`: the device profiles, resolved.

Owns presentation of `emulator.profiles` (one line per profile, or every resolved key as
`key = value` lines or JSON); loading and validation live in emulator.profiles, and nothing here
decides what a valid profile is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from emulator.profiles import load_all, load_profile

_HEX_KEYS = {"profile_id", "device_id", "manufacturer_id", "image_type", "hardware_version"}
_HEX_LIST_KEYS = {"input_clusters", "output_clusters"}

_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Profiles directory (default: the project's profiles/).",
)


@click.group()
def profiles() -> None:
    """Device profiles (profiles/*.toml): list them, show one resolved."""


@profiles.command("list")
@_DIR
def list_profiles(directory: Path | None) -> None:
    """One line per profile: name, device type, activation, supplier slots, routes."""
    rows = load_all(directory)
    width = max((len(p.name) for p in rows), default=4)
    for p in rows:
        click.echo(
            f"{p.name:<{width}}  {p.device_type:<6}  {p.activation:<15}  slots={p.supplier_slots}"
            f"  routes={','.join(p.routes):<14}  {p.description}"
        )


@profiles.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the resolved profile as JSON.")
@_DIR
def show(name: str, as_json: bool, directory: Path | None) -> None:
    """Every resolved key of profile NAME (after `extends`), one `key = value` per line."""
    data = load_profile(name, directory).to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in _flatten(data, ""):
        click.echo(f"{key} = {value}")


def _flatten(value: Any, prefix: str) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for key, inner in value.items():
            out += _flatten(inner, f"{prefix}.{key}" if prefix else key)
        return out
    leaf = prefix.rsplit(".", 1)[-1]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = []
        for index, inner in enumerate(value):
            out += _flatten(inner, f"{prefix}[{index}]")
        return out
    return [(prefix, _show(leaf, value))]


def _show(leaf: str, value: Any) -> str:
    if leaf in _HEX_KEYS and isinstance(value, int):
        return f"0x{value:04X}"
    if leaf == "firmware_version" and isinstance(value, int):
        return f"0x{value:08X}"
    if leaf in _HEX_LIST_KEYS:
        return "[" + ", ".join(f"0x{v:04X}" for v in value) + "]"
    return json.dumps(value)
