"""Configuration files (device profiles, homes): one reader and one wording for every mistake.

`read_toml(path, what)` turns a file into a dict, or raises `ConfigError` with one line for a file
that is missing, not a regular file, unreadable, too large (`emulator.files`), not UTF-8 or not
TOML. A `Key` declares what one key may hold (`text`, `flag`, `integer`, `number`, `choice`,
`array`, `table` build the usual ones); `ConfigReader` checks a table against such declarations
and names each key by its dotted path (`zigbee.endpoints[0].id`), and, for a file merged from
others, the file the key came from.

This module owns reading and checking values, and the wording of type, range and choice errors.
It never knows what a profile or a home is, and lets no exception but `ConfigError` out for bad
input.
"""

from __future__ import annotations

import dataclasses
import enum
import errno
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.errors import ConfigError, InputError
from emulator.files import read_input


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a key that must be given."""

_KIND_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def display(path: Path) -> str:
    """How errors name a file: relative to the working directory when under it, quoted when the
    name holds anything unprintable (a newline, an undecodable byte)."""
    try:
        shown = str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a symlink loop
        shown = str(path)
    return shown if shown.isprintable() else repr(shown)


def dotted(key: str, name: str) -> str:
    """The dotted path of `name` inside the table at `key` ("" for the top level); a name that is
    not a bare TOML key is quoted as TOML would, so an error stays one line."""
    if not _BARE_KEY.fullmatch(name):
        name = '"' + "".join(map(_escape, name)) + '"'
    return f"{key}.{name}" if key else name


def _escape(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    if c.isprintable():
        return c
    return f"\\u{ord(c):04X}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08X}"


def read_toml(path: Path, what: str, *, missing: str | None = None) -> dict[str, Any]:
    """The TOML table in `path`, a `what` ("home file"); `missing` replaces "no such <what>"."""
    source = display(path)
    try:
        raw = read_input(path, what=what)
    except InputError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise ConfigError(source, None, missing or f"no such {what}") from None
        raise ConfigError(source, None, exc.what) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start]
        raise ConfigError(
            source, None, f"not UTF-8 text (byte 0x{bad:02X} at offset {exc.start})"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, None, f"invalid TOML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(
            source, None, "invalid TOML: arrays or tables nested too deeply"
        ) from None


# --- declarations -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Key:
    """What one key may hold: its TOML type(s), then a check on a value of that type."""

    kind: type | tuple[type, ...]
    check: Callable[[Any], str | None] | None = None
    """A complaint about a value of the right type ("must be ..."), or None when it is good."""
    default: Any = REQUIRED
    """The value when the key is absent (used as it is, not converted)."""
    convert: Callable[[Any], Any] | None = None
    """Turns a good value into what the caller keeps (a float, an enum member, a tuple)."""
    expected: str | None = None
    """What a type error says is wanted, when the kinds' names are not the best words."""
    domain: str = ""
    """How an array of these names its values ("from a, b", "in 0..9")."""
    hex: bool = False
    """Show integers in errors in hexadecimal."""

    @property
    def kinds(self) -> tuple[type, ...]:
        return self.kind if isinstance(self.kind, tuple) else (self.kind,)

    def expectation(self) -> str:
        if self.expected is not None:
            return self.expected
        kinds = [k for k in self.kinds if not (k is int and float in self.kinds)]
        return " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)

    def fits(self, value: Any) -> bool:
        """Whether `value` has a declared type (a boolean is never an integer here)."""
        if isinstance(value, bool) and bool not in self.kinds:
            return False
        return isinstance(value, self.kinds)

    def show(self, value: Any) -> str:
        if self.hex and isinstance(value, int) and not isinstance(value, bool):
            return f"0x{value:X}"
        return repr(value)


def text(default: Any = REQUIRED) -> Key:
    return Key(str, default=default)


def flag(default: Any = REQUIRED) -> Key:
    return Key(bool, default=default)


def table(default: Any = REQUIRED) -> Key:
    """A table checked by the caller (with `ConfigReader.table`)."""
    return Key(dict, default=default)


def _span(low: float, high: float, hex: bool) -> str:
    if hex:
        width = len(f"{high:X}")
        return f"0x{low:0{width}X}..0x{high:0{width}X}"
    return f"{low}..{high}"


def integer(low: int, high: int, default: Any = REQUIRED, *, hex: bool = False) -> Key:
    """An integer in [low, high]."""
    span = _span(low, high, hex)
    return Key(
        int,
        lambda v: None if low <= v <= high else f"must be in {span}",
        default,
        domain=f"in {span}",
        hex=hex,
    )


def number(low: float, high: float, default: Any = REQUIRED) -> Key:
    """A number (integer or float) in [low, high], kept as a float."""
    span = _span(low, high, False)
    return Key(
        (int, float),
        lambda v: None if low <= v <= high else f"must be in {span}",  # NaN is never in range
        default,
        convert=float,
        domain=f"in {span}",
    )


def choice(
    choices: Iterable[Any], default: Any = REQUIRED, *, aliases: Mapping[Any, Any] | None = None
) -> Key:
    """One of `choices` (an enum class gives its members), or an older name in `aliases`."""
    members = tuple(choices)
    allowed = set(members)
    renamed = dict(aliases or {})
    kinds = tuple(dict.fromkeys(str if isinstance(m, str) else type(m) for m in members))
    names = ", ".join(map(str, members))
    as_enum = isinstance(choices, enum.EnumMeta)

    def convert(value: Any) -> Any:
        value = renamed.get(value, value)
        return choices(value) if as_enum else value  # type: ignore[operator]

    return Key(
        kinds,
        lambda v: None if renamed.get(v, v) in allowed else f"must be one of {names}",
        default,
        convert=convert,
        domain=f"from {names}",
    )


def knobs(cls: type, *, skip: Iterable[str] = ()) -> dict[str, Key]:
    """One optional key per field of a dataclass of knobs (a policy), named as the field, but
    those in `skip`. Its TOML type follows the field's default: a boolean, an integer, a number,
    or a `StrEnum`'s spellings (kept as the member); for a field whose default is None (TOML has
    no null: set only to a value) its annotation says int or float. An absent key reads as
    None, so the dataclass keeps its default; ranges stay the dataclass's own checks."""
    keys: dict[str, Key] = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        default = f.default
        if isinstance(default, enum.Enum):
            keys[f.name] = choice(type(default), None)
        elif isinstance(default, bool):
            keys[f.name] = flag(None)
        elif isinstance(default, float) or (default is None and "float" in str(f.type)):
            keys[f.name] = Key((int, float), default=None, convert=float)
        elif isinstance(default, int) or (default is None and "int" in str(f.type)):
            keys[f.name] = Key(int, default=None)
        elif isinstance(default, str):
            keys[f.name] = text(None)
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no TOML form for {f.type}")
    return keys


def array(
    item: Key | None = None,
    *,
    noun: str = "values",
    nonempty: bool = False,
    distinct: bool = False,
    default: Any = REQUIRED,
) -> Key:
    """An array (kept as a tuple) whose items are each an `item`, if given."""
    want = "a non-empty array" if nonempty else "an array"
    want = f"{want} of {'distinct ' if distinct else ''}{noun}"
    if item is not None and item.domain:
        want = f"{want} {item.domain}"

    def check(values: list) -> str | None:
        if nonempty and not values:
            return f"must be {want}"
        if item is not None and not all(_good(item, v) for v in values):
            return f"must be {want}"
        if distinct and len(set(map(repr, values))) != len(values):
            return f"must be {want}"
        return None

    def convert(values: list) -> tuple:
        if item is None or item.convert is None:
            return tuple(values)
        return tuple(item.convert(v) for v in values)

    return Key(list, check, default, convert=convert)


def _good(declared: Key, value: Any) -> bool:
    return declared.fits(value) and (declared.check is None or declared.check(value) is None)


# --- checking -----------------------------------------------------------------------------------


class ConfigReader:
    """Checks the values of one configuration file against declarations.

    `origins` maps a dotted key to the file it came from, for files merged from others; a key
    not in it (or a rule tying keys together, `here=True`) is blamed on `source`."""

    def __init__(self, source: str, origins: Mapping[str, str] | None = None):
        self.source = source
        self.origins = origins or {}

    def fail(self, key: str | None, what: str, *, here: bool = False) -> ConfigError:
        """The error for `key` (None: the whole file)."""
        if key is None or here:
            return ConfigError(self.source, key, what)
        source = self.origins.get(key) or self.origins.get(key.split("[")[0]) or self.source
        return ConfigError(source, key, what)

    def table(self, data: Any, key: str, spec: Mapping[str, Key]) -> dict[str, Any]:
        """`data`, the table at dotted `key` ("" for the top level), with every declared key
        checked and converted (or defaulted); an undeclared key is an error."""
        if not isinstance(data, dict):
            raise self.fail(key or None, f"must be a table, got {data!r}")
        for name in data:
            if name not in spec:
                raise self.fail(
                    dotted(key, name), f"unknown key (allowed: {', '.join(spec) or 'none'})"
                )
        out = {}
        for name, declared in spec.items():
            if name in data:
                out[name] = self.value(dotted(key, name), data[name], declared)
            elif declared.default is REQUIRED:
                raise self.fail(dotted(key, name), "missing")
            else:
                out[name] = declared.default
        return out

    def value(self, key: str, value: Any, declared: Key) -> Any:
        """`value` of dotted `key` checked against `declared`, and converted."""
        if not declared.fits(value):
            raise self.fail(key, f"must be {declared.expectation()}, got {value!r}")
        if declared.check is not None:
            complaint = declared.check(value)
            if complaint is not None:
                raise self.fail(key, f"{complaint}, got {declared.show(value)}")
        return value if declared.convert is None else declared.convert(value)
