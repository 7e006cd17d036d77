"""The `hanemu` command line: one click group, one sub-group per area, one error boundary.

Each area lives in its own module here (`image.py`, ...) and is registered below. This package
owns turning `HanemuError` into one line on stderr and an exit status; it never holds protocol
logic.
"""

from __future__ import annotations

import sys

import click

from emulator import __version__
from emulator.errors import HanemuError

# Exit statuses shared by every command.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class HanemuGroup(click.Group):
    """A click group that turns project errors and unreadable files into one line, exit 2."""

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


def _register() -> None:
    from emulator.cli.image import image

    cli.add_command(image)
    from emulator.cli.gbcs import gbcs
    from emulator.cli.profiles import profiles

    cli.add_command(profiles)
    cli.add_command(gbcs)
    from emulator.cli.ota import ota

    cli.add_command(ota)
    from emulator.cli.home import home

    cli.add_command(home)


_register()


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(standalone_mode=True))
