"""The `hanemu` command line: one click group, one sub-group per area, one error boundary.

Each area lives in its own module here (`image.py`, ...), named in `AREAS` and imported only
when its command runs, so `hanemu image ...` does not pay for loading zigpy. This package owns
turning `HanemuError` into one line on stderr and an exit status; it never holds protocol logic.
"""

from __future__ import annotations

import importlib
import sys

import click

from emulator import __version__
from emulator.errors import HanemuError

# Exit statuses shared by every command.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


#: Command area -> the module holding a click group of the same name.
AREAS = {
    "gbcs": "emulator.cli.gbcs",
    "home": "emulator.cli.home",
    "image": "emulator.cli.image",
    "ota": "emulator.cli.ota",
    "profiles": "emulator.cli.profiles",
}


class HanemuGroup(click.Group):
    """A click group that loads each area on first use and turns project errors and unreadable
    files into one line, exit 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(AREAS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = AREAS.get(name)
        return None if module is None else getattr(importlib.import_module(module), name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HanemuError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except OSError as exc:
            name = exc.filename if exc.filename is not None else ""
            click.echo(f"error: {name}: {exc.strerror or exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


@click.group(cls=HanemuGroup)
@click.version_option(__version__, prog_name="hanemu")
def cli() -> None:
    """Emulated GB smart-metering HAN devices as Zigbee OTA Upgrade clients."""


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(standalone_mode=True))
