"""Reading the files a user names: regular files only, and never more than a size limit.

`read_input(path)` is how hanemu reads every file a user gives it (OTA images, payloads, keys and
certificates, GBCS messages, profiles and home files). It refuses a directory, a FIFO, a device
or a socket before reading a byte (and opens without blocking, so a FIFO with no writer cannot
hang it), reads at most the input limit (`HANEMU_MAX_INPUT_BYTES`, default `DEFAULT_LIMIT`), and
turns every failure into one `InputError` naming the path.

This module owns those checks and their wording. It never parses what it reads, never writes
a file, and never reads an input to its end without a bound.
"""

from __future__ import annotations

import errno
import os
import stat

from emulator.errors import InputError

DEFAULT_LIMIT = 64 * 1024 * 1024
"""The input limit when `HANEMU_MAX_INPUT_BYTES` is not set: every real OTA file fits."""
LIMIT_VARIABLE = "HANEMU_MAX_INPUT_BYTES"

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_MISSING = (errno.ENOENT, errno.ENOTDIR)


def input_limit() -> int:
    """The most bytes one input may hold: `HANEMU_MAX_INPUT_BYTES`, or `DEFAULT_LIMIT`."""
    text = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit < 1:
        raise InputError(LIMIT_VARIABLE, f"{text!r} is not a positive whole number of bytes")
    return limit


def not_regular(mode: int, what: str = "file") -> str | None:
    """Why a file of `mode` (from stat) cannot be read as a `what`, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return f"is a directory, not {_article(what)} {what}"
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"not a regular file ({kind})"


def shown(path: str | os.PathLike[str]) -> str:
    """How errors name a path: as given, quoted when it holds anything unprintable."""
    text = os.fspath(path)
    return text if text.isprintable() else repr(text)


def read_input(
    path: str | os.PathLike[str],
    *,
    limit: int | None = None,
    what: str = "file",
    adjustable: bool = True,
) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them (None: `input_limit()`), or
    `InputError` naming the path. `what` names what was expected when a directory is given
    ("is a directory, not an OTA file"). `adjustable=False` says `limit` is fixed (a key file's),
    so a file over it is not told to set `HANEMU_MAX_INPUT_BYTES`, which would not help."""
    limit = input_limit() if limit is None else limit
    name = shown(path)
    try:
        complaint = not_regular(os.stat(path).st_mode, what)
        if complaint is not None:  # refused before opening: opening a device can act on it
            raise InputError(name, complaint)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise _failure(name, exc, what) from None
    except ValueError:  # a NUL byte in the name
        raise InputError(name, "no such file", errno.ENOENT) from None
    with open(fd, "rb") as f:
        try:
            info = os.fstat(fd)
            complaint = not_regular(info.st_mode, what)  # it may have changed since the stat
            if complaint is not None:
                raise InputError(name, complaint)
            if info.st_size > limit:
                raise _too_large(name, limit, what if not adjustable else None)
            data = f.read(limit + 1)
        except OSError as exc:
            raise _failure(name, exc, what) from None
    if len(data) > limit:  # a file that grew while it was read, or one whose size is not known
        raise _too_large(name, limit, what if not adjustable else None)
    return data


def _failure(name: str, exc: OSError, what: str) -> InputError:
    if exc.errno in _MISSING:
        return InputError(name, "no such file", errno=exc.errno)
    if exc.errno == errno.EISDIR:
        return InputError(name, f"is a directory, not {_article(what)} {what}", errno=exc.errno)
    return InputError(name, f"cannot read: {exc.strerror or exc}", errno=exc.errno)


def _too_large(name: str, limit: int, fixed_for: str | None = None) -> InputError:
    if fixed_for is not None:
        return InputError(name, f"larger than {limit} bytes, more than any {fixed_for} holds")
    return InputError(
        name, f"larger than the input limit of {limit} bytes (set {LIMIT_VARIABLE} to raise it)"
    )


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeio" else "a"
