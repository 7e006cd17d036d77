"""Parameter types shared by the `hanemu` commands."""

from __future__ import annotations

import click


class Int(click.ParamType):
    """An integer in decimal or with a 0x / 0o / 0b prefix, optionally within [low, high].

    Versions, ids and sizes in this field are written in hex as often as in decimal
    (`--current-version 0x01020304`), so every integer option takes both.
    """

    name = "integer"

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low = low
        self.high = high

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            number = value
        else:
            try:
                number = int(str(value).replace("_", ""), 0)
            except ValueError:
                self.fail(f"{value!r} is not an integer (decimal or 0x-prefixed hex)", param, ctx)
        if (self.low is not None and number < self.low) or (
            self.high is not None and number > self.high
        ):
            if self.high is None:
                self.fail(f"{value} is below the minimum {self.low}", param, ctx)
            if self.low is None:
                self.fail(f"{value} is above the maximum {_both(self.high)}", param, ctx)
            self.fail(
                f"{value} is not in the range [{_both(self.low)}, {_both(self.high)}]", param, ctx
            )
        return number


def _both(bound: int) -> str:
    """A bound as a user may have meant it: decimal, and hex beside it when that differs."""
    return str(bound) if bound < 10 else f"{bound} ({bound:#x})"


class ZepAddress(click.ParamType):
    """Where to stream ZEP: `HOST:PORT` (`[::1]:17754` for IPv6), checked and resolved before
    the run, so a bad value is a usage error (one line, exit 2)."""

    name = "HOST:PORT"

    def convert(self, value, param, ctx):
        from emulator.errors import CaptureError
        from emulator.radio.zep import parse_address, resolve

        if isinstance(value, tuple):
            return value
        try:
            host, port = parse_address(str(value))
            resolve(host, port)
        except CaptureError as exc:
            self.fail(str(exc), param, ctx)
        return host, port


class RadioName(click.ParamType):
    """An air: `zigpy`, `direct`, `ncp`, or `ezsp:` and a dongle (a serial device that exists, or
    `socket://HOST:PORT`), checked before the run as a home file's `radio` is."""

    name = "RADIO"

    def convert(self, value, param, ctx):
        from emulator.radio.air import normal_radio, radio_problem

        problem = radio_problem(str(value))
        if problem is not None:
            self.fail(f"{problem}, got {value!r}", param, ctx)
        return normal_radio(str(value))
