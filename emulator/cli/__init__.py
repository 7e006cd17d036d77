"""The `hanemu` command line: one click group, one sub-group per area, one error boundary.

Each area lives in its own module here (`image.py`, ...), named in `AREAS` and imported only
when its command runs, so `hanemu image ...` does not pay for loading zigpy. This package owns
turning `HanemuError`, usage errors and system errors into one line on stderr and an exit status
(the `EXIT_*` codes, documented in the README), Ctrl-C into "interrupted" (130) and SIGTERM
into "terminated" (143), and a reader that went away (`| head`) into a quiet end; it never holds
protocol logic.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from emulator import __version__
from emulator.errors import HanemuError, Interrupted
from emulator.files import shown
from emulator.interrupt import raise_on_signals, signal_behind, signals_ignored

if TYPE_CHECKING:
    from rich.console import Console

# Exit statuses shared by every command.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
"""SIGINT (Ctrl-C): 128 + 2, as a shell reports a command the signal ended."""
EXIT_TERMINATED = 143
"""SIGTERM: 128 + 15."""


#: Command area -> the module holding a click group of the same name.
AREAS = {
    "fleet": "emulator.cli.fleet",
    "fuzz": "emulator.cli.fuzz",
    "gbcs": "emulator.cli.gbcs",
    "home": "emulator.cli.home",
    "image": "emulator.cli.image",
    "inventory": "emulator.cli.inventory",
    "ncp": "emulator.cli.ncp",
    "options": "emulator.cli.options",
    "ota": "emulator.cli.ota",
    "profiles": "emulator.cli.profiles",
}


class HanemuGroup(click.Group):
    """A click group that loads each area on first use and turns project errors and unreadable
    files into one line, exit 2, and Ctrl-C into one line, exit 130."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(AREAS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = AREAS.get(name)
        return None if module is None else getattr(importlib.import_module(module), name)

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:  # a bad option before any area (`hanemu --x`)
            raise click.exceptions.Exit(_usage_error(exc)) from None

    def invoke(self, ctx: click.Context):
        try:
            return self._unwrapped_invoke(ctx)
        except click.ClickException as exc:  # bad usage: one line, like every other error
            ctx.exit(_usage_error(exc))
        except Interrupted as exc:  # SIGINT or SIGTERM, once the command cleaned up
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)
        except HanemuError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
            _silence_stdout()
            ctx.exit(EXIT_OK)
        except OSError as exc:
            click.echo(f"error: {_os_error(ctx, exc)}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)

    def _unwrapped_invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:  # a signal that landed while a module loads, in disguise
            behind = signal_behind(exc)
            if behind is None:
                raise
            raise behind from None


def _usage_error(exc: click.ClickException) -> int:
    """Print click's complaint about the command line as one line; the exit status to use.

    A bare group (`hanemu image`) still shows its help, as click does."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        exc.show()
        return exc.exit_code
    message = exc.format_message().rstrip(".")
    context = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and context is not None:
        message = f"{message} (see '{context.command_path} --help')"
    click.echo(f"error: {message}", err=True)
    return EXIT_BAD_INPUT


def _os_error(ctx: click.Context, exc: OSError) -> str:
    """A system error in one line that says what failed: the file, else standard output, else
    the command."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None and exc.filename != "":
        name = shown(os.fsdecode(exc.filename)) if not isinstance(exc.filename, int) else "a file"
        if exc.filename2 is not None:
            name = f"{name} -> {shown(os.fsdecode(exc.filename2))}"
        return f"{name}: {reason}"
    if _writing_stdout(exc):
        _silence_stdout()
        return f"standard output: {reason}"
    command = " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))
    return f"{command}: {reason}"


def _writing_stdout(exc: BaseException) -> bool:
    """Whether `exc` came out of a write to standard output (`click.echo` holds the stream it
    writes to; the system error itself names no file)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    return any(
        value is sys.stdout or getattr(value, "name", None) == "<stdout>"
        for value in tb.tb_frame.f_locals.values()
    )


def _silence_stdout() -> None:
    """Point standard output at the null device, so what is still buffered for a reader that
    went away (or a full disk) is dropped at exit instead of failing again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind it (tests' captures)
        pass


def console(**options: Any) -> Console:
    """A Rich console for a command's output whose broken pipe ends the command through this
    boundary, like a click write's (Rich's own answer is exit 1, the code for a failed check)."""
    from rich.console import Console

    out = Console(**options)
    out.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    return out


def _broken_pipe() -> None:
    raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


@click.group(cls=HanemuGroup)
@click.version_option(__version__, prog_name="hanemu")
def cli() -> None:
    """Emulated GB smart-metering HAN devices as Zigbee OTA Upgrade clients."""


def main() -> None:
    """Console-script entry point: the command's exit status, once standard output is flushed."""
    raise_on_signals()  # SIGINT, SIGTERM -> Interrupted: one line, exit 130 or 143
    try:
        cli.main(standalone_mode=True)
        code: int | str | None = EXIT_OK
    except SystemExit as done:
        code = done.code
    except Interrupted as exc:  # a signal before or after the command itself
        click.echo(str(exc), err=True)
        code = exc.exit_code
    finally:
        signals_ignored()  # the command is over: a signal now would only kill the exit
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        click.echo(f"error: standard output: {exc.strerror or exc}", err=True)
        code = code or EXIT_BAD_INPUT
    sys.exit(code)
