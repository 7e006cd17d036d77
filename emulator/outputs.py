"""Writing the files a run produces (reports, pcaps): whole, or not at all.

`AtomicFile(path)` writes under a temporary name beside `path` (same directory, so the same file
system) and `commit()` flushes, fsyncs and renames it onto `path`; `discard()` removes it. A
reader, a crash or a signal therefore sees the old file (or none) or the complete new one, never
a torn one. `write_atomic(path, data)` does that for bytes in hand. `check_outputs` refuses,
before a run starts, an output path that could not be written that way (a directory, a device
or FIFO, a directory that does not exist or cannot be written) or that names the same file as
another output or as one of the run's inputs.

Every failure is one `OutputError` naming the path as the user gave it. This module owns those
checks and the write-then-rename; it never decides what goes into a file, never reads an input,
and never leaves its temporary file behind once it returns or raises.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from emulator.errors import OutputError
from emulator.files import not_regular, shown

_TEMP_SUFFIX = ".tmp"


def _target(path: Path) -> Path:
    """Where the data lands: a symlink's target (the link itself stays), else `path`."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _open_temp(target: Path, name: str) -> tuple[int, Path]:
    """A new file beside `target`, open for writing, created with the usual mode (umask)."""
    directory = target.parent
    for _ in range(100):
        temp = directory / f".{target.name}.{secrets.token_hex(4)}{_TEMP_SUFFIX}"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
        except OSError as exc:
            raise _failure(name, exc, directory) from None
    raise OutputError(name, f"cannot create a temporary file in {shown(directory)}")


def _failure(name: str, exc: OSError, directory: Path | None = None) -> OutputError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    if directory is None:
        return OutputError(name, f"cannot write: {reason}", exc.errno)
    if exc.errno in (errno.ENOENT, errno.ENOTDIR) and not directory.is_dir():
        return OutputError(name, f"no such directory {shown(directory)}", exc.errno)
    return OutputError(name, f"cannot write in {shown(directory)}: {reason}", exc.errno)


class AtomicFile:
    """A binary file written beside `path` and renamed onto it by `commit()`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = shown(path)
        target = _target(self.path)
        try:
            why = not_regular(target.stat().st_mode)
        except OSError:
            why = None  # not there yet (or unreachable: creating the temporary file says so)
        if why is not None:  # never rename over a device, a FIFO or a directory
            raise OutputError(self.name, why)
        fd, self.temp = _open_temp(target, self.name)
        self.stream = os.fdopen(fd, "wb")
        self.done = False

    def write(self, data: bytes) -> None:
        """Append `data`; a system error becomes `OutputError` naming the path."""
        try:
            self.stream.write(data)
        except OSError as exc:
            raise _failure(self.name, exc) from None

    def commit(self) -> None:
        """Flush, fsync and rename onto the path; on any failure nothing is left behind."""
        if self.done:
            return
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self.temp, _target(self.path))
        except OSError as exc:
            self.discard()
            raise _failure(self.name, exc) from None
        self.done = True
        _sync_directory(self.temp.parent)

    def discard(self) -> None:
        """Forget what was written: the temporary file is removed, the path is untouched."""
        if self.done:
            return
        self.done = True
        with contextlib.suppress(OSError, ValueError):
            self.stream.close()
        with contextlib.suppress(OSError):
            os.unlink(self.temp)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the system allows a directory to be fsynced)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` whole: a temporary file beside it, fsynced, renamed onto it. A
    character device (/dev/null, /dev/full) is written to as it is: it holds no file to tear,
    and renaming onto it would replace the device."""
    try:
        device = stat.S_ISCHR(_target(Path(path)).stat().st_mode)
    except OSError:
        device = False
    if device:
        try:
            with open(path, "wb", buffering=0) as out:
                out.write(data)
        except OSError as exc:  # named as the CLI names any system error
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
        return
    with AtomicFile(path) as out:
        out.write(data)


def check_output(path: Path, label: str) -> None:
    """Refuse an output path that cannot be written whole: a directory, a device or FIFO, a
    directory that does not exist or cannot be written. `label` names the option (`--report`)."""
    name = f"{label} {shown(path)}"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise _failure(name, exc, path.parent) from None
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputError(name, not_regular(mode, "output file") or "not a regular file")
    fd, temp = _open_temp(_target(path), name)  # the one sure test: create a file there
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(temp)


def output_directory(path: Path, label: str = "--out") -> None:
    """Create the directory a command writes its files in (and its parents), or refuse it in
    one line: something that is not a directory is there, or it cannot be created."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{label} {shown(path)}", "not a directory") from None
    except OSError as exc:
        raise OutputError(f"{label} {shown(path)}", f"cannot create: {exc.strerror}") from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(outputs: Mapping[str, Path | None], inputs: Iterable[tuple[Path, str]]) -> None:
    """Check every output path given (option label -> path) before a run: each one writable
    whole, none the same file as another output or as an input (path, what it is)."""
    given = [(label, path) for label, path in outputs.items() if path is not None]
    for label, path in given:
        check_output(path, label)
    for i, (label, path) in enumerate(given):
        for other, earlier in given[:i]:
            if _same_file(path, earlier):
                raise OutputError(f"{label} {shown(path)}", f"the same file as {other}")
    read = list(inputs)
    for label, path in given:
        for source, what in read:
            if _same_file(path, source):
                raise OutputError(f"{label} {shown(path)}", f"would overwrite {what}")
