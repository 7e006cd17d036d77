"""The firmware inventory: which firmware each device really runs, one row per activation.

The options paper asks for the firmware version to be "held on the DCC Inventory and mapped to
this device type". `Inventory` is that record, in SQLite (the standard library's `sqlite3`): at
every firmware switch the head-end (`emulator.device.headend`) adds an `Activation` naming the
device (its GBCS entity id, the EUI-64 in hex), its type, profile and route, the campaign's
supplier, the file version the device's flash really runs, the scenario time, and the home and
seed of the run. Each row is committed in its own transaction, so a run that is interrupted or
killed leaves a database holding the activations so far, never a torn one.

`Inventory.open(path)` appends to a database file (created when absent); `Inventory.memory()`
keeps it in memory, and `serialize()` gives its bytes for a caller to write whole
(`emulator.outputs`). `check_writable(path)` refuses, before a run, a file that exists and is no
inventory; `read_inventory(path)` lists one for `hanemu inventory show`, refusing a directory,
FIFO or device before opening it, and never changes what it holds. Every failure is one
`InputError` or `OutputError` naming the path.

This module owns the table and its wording. It never decides when a device activated (the
device and the head-end do), never runs anything and never reads wall time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, astuple, dataclass, fields
from pathlib import Path
from typing import Any

from emulator.errors import InputError, OutputError
from emulator.files import not_regular, shown

TABLE = "activations"
APPLICATION_ID = 0x48414E45
"""`PRAGMA application_id` of a hanemu inventory ("HANE")."""
SCHEMA_VERSION = 1
"""`PRAGMA user_version` of the table below."""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    device TEXT NOT NULL,
    device_type TEXT,
    profile TEXT,
    route TEXT,
    supplier TEXT,
    file_version INTEGER NOT NULL,
    t REAL NOT NULL,
    home TEXT NOT NULL,
    seed TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Activation:
    """One firmware switch on one device, as the head-end records it."""

    device_id: str
    """The device's GBCS entity id: its EUI-64 as 16 upper-case hex digits."""
    device: str
    """The device's name in its home."""
    device_type: str | None
    """IHD, PPMID, HCALCS or CAD; None for a plain Zigbee OTA client."""
    profile: str | None
    route: str | None
    """dcc, wifi or local; None when no campaign of the head-end brought the firmware."""
    supplier: str | None
    """The party of the campaign that brought the firmware (A, B, rogue, forged)."""
    file_version: int
    """The file version the device's flash runs after the switch."""
    t: float
    """Scenario time of the switch, in seconds."""
    home: str
    seed: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = tuple(f.name for f in fields(Activation))


class Inventory:
    """An open firmware inventory: `record` adds a row (one transaction), `rows` lists them."""

    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        self._db = db
        self.name = name
        """How errors name it: the path as the user gave it, or "inventory (in memory)"."""
        self._batched = False

    @classmethod
    def within(cls, db: sqlite3.Connection, name: str) -> Inventory:
        """The inventory table of a database another store owns (`emulator.fleet`'s results),
        on that store's connection (in autocommit mode), created when absent."""
        try:
            _create(db)
        except sqlite3.Error as exc:
            raise OutputError(name, _sqlite_reason(exc)) from None
        return cls(db, name)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for every row recorded inside, and for whatever else the
        connection's owner writes inside: all of it is committed, or none."""
        with _transaction(self._db):
            self._batched = True
            try:
                yield
            finally:
                self._batched = False

    @classmethod
    def memory(cls) -> Inventory:
        """An inventory held in memory (`serialize` gives its bytes)."""
        db = sqlite3.connect(":memory:", isolation_level=None)
        _create(db)
        return cls(db, "inventory (in memory)")

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, label: str = "--inventory") -> Inventory:
        """The inventory at `path`, created with its table when the file is absent or empty;
        `OutputError` (naming `label` and the path) for a file that is no inventory."""
        name = f"{label} {shown(path)}"
        _refuse_special(path, name)
        try:
            db = sqlite3.connect(os.fspath(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise OutputError(name, f"cannot open: {exc}") from None
        try:
            problem = _not_inventory(db)
            if problem is not None:
                raise OutputError(name, problem)
            _create(db)
        except sqlite3.Error as exc:
            db.close()
            raise OutputError(name, _sqlite_reason(exc)) from None
        except BaseException:
            db.close()
            raise
        return cls(db, name)

    def record(self, row: Activation) -> None:
        """Add one activation, committed at once (its own transaction; inside `batch`, with the
        batch)."""
        values = astuple(row)
        values = (*values[:-1], str(row.seed))  # a seed may exceed SQLite's 64-bit integers
        try:
            with contextlib.nullcontext() if self._batched else _transaction(self._db):
                self._db.execute(
                    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in COLUMNS)})",
                    values,
                )
        except sqlite3.Error as exc:
            raise OutputError(self.name, f"cannot record an activation: {exc}") from None

    def rows(self) -> list[Activation]:
        try:
            return _rows(self._db, self.name)
        except InputError as exc:
            raise OutputError(self.name, exc.what) from None

    def serialize(self) -> bytes:
        """The database as the bytes of an SQLite file."""
        return self._db.serialize()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN ... COMMIT, or ROLLBACK on any failure (every connection here is in autocommit
    mode, so what is committed is exactly what this says)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _create(db: sqlite3.Connection) -> None:
    with _transaction(db):
        db.execute(_SCHEMA)
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _not_inventory(db: sqlite3.Connection) -> str | None:
    """Why an open database is not one hanemu may add rows to, or None (a hanemu inventory, or
    an empty database). Raises sqlite3.DatabaseError for a file that is no database."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return None
    if TABLE not in tables:
        return f"an SQLite database without hanemu's {TABLE} table (not an inventory)"
    return _columns_problem(db)


def _columns_problem(db: sqlite3.Connection) -> str | None:
    have = [r[1] for r in db.execute(f"PRAGMA table_info({TABLE})")]
    missing = [c for c in COLUMNS if c not in have]
    if missing:
        return f"its {TABLE} table lacks column(s) {', '.join(missing)} (not a hanemu inventory)"
    return None


def _sqlite_reason(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text:
        return "not an SQLite database (so not an inventory)"
    return f"cannot use it: {text}"


def _refuse_special(path: str | os.PathLike[str], name: str) -> None:
    """Refuse a directory, FIFO, device or socket (an absent file is fine: it is created)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise OutputError(name, f"cannot open: {getattr(exc, 'strerror', None) or exc}") from None
    complaint = not_regular(mode, "inventory")
    if complaint is not None:
        raise OutputError(name, complaint)


def check_writable(path: Path, *, label: str = "--inventory") -> None:
    """Refuse, before a run, an inventory path that exists and is no inventory (nor empty): the
    run would otherwise add a table to someone else's database, or fail at its first row."""
    name = f"{label} {shown(path)}"
    _refuse_special(path, name)
    if not path.exists():
        return
    try:
        db = _connect_read_only(path)
    except sqlite3.Error as exc:
        raise OutputError(name, _sqlite_reason(exc)) from None
    try:
        problem = _not_inventory(db)
    except sqlite3.Error as exc:
        raise OutputError(name, _sqlite_reason(exc)) from None
    finally:
        db.close()
    if problem is not None:
        raise OutputError(name, problem)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never creates the file and never changes what it holds. It is not
    SQLite's `mode=ro`: a run killed while committing leaves a hot journal, and only a
    connection that may write lets SQLite roll it back to the last whole row (a read-only
    one fails); on a file the system will not let us write, SQLite opens it read-only."""
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=rw"
    db = sqlite3.connect(uri, uri=True)
    db.execute("PRAGMA query_only = ON")
    return db


def read_inventory(path: str | os.PathLike[str]) -> list[Activation]:
    """Every row of the inventory at `path`, in the order recorded; one `InputError` for a
    missing file, a directory, FIFO or device, a file that is no SQLite database, or a database
    without the inventory's table. SQLite reads the pages it needs, so a database of any size
    is listed without reading it whole; no row is changed (SQLite itself rolls back what a
    killed run left half-committed, as any connection would)."""
    name = shown(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except (OSError, ValueError) as exc:
        raise InputError(name, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    complaint = not_regular(mode, "inventory")
    if complaint is not None:
        raise InputError(name, complaint)
    try:
        db = _connect_read_only(Path(path))
    except sqlite3.Error as exc:
        raise InputError(name, _sqlite_reason(exc)) from None
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if TABLE not in tables:
            raise InputError(
                name, f"an SQLite database without hanemu's {TABLE} table (not an inventory)"
            )
        problem = _columns_problem(db)
        if problem is not None:
            raise InputError(name, problem)
        return _rows(db, name)
    except sqlite3.Error as exc:
        raise InputError(name, _sqlite_reason(exc)) from None
    finally:
        db.close()


_TEXT = (str,)
_OPTIONAL_TEXT = (str, type(None))
_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "device_id": (_TEXT, "text"),
    "device": (_TEXT, "text"),
    "device_type": (_OPTIONAL_TEXT, "text or null"),
    "profile": (_OPTIONAL_TEXT, "text or null"),
    "route": (_OPTIONAL_TEXT, "text or null"),
    "supplier": (_OPTIONAL_TEXT, "text or null"),
    "file_version": ((int,), "an integer"),
    "t": ((int, float), "a number"),
    "home": (_TEXT, "text"),
    "seed": (_TEXT, "text"),
}
"""What each column must hold (a hostile file may hold anything: a row that does not fit is
named, never shown as something it is not)."""


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 4000  # int() takes 4300 at most


def _rows(db: sqlite3.Connection, name: str) -> list[Activation]:
    found = []
    query = f"SELECT id, {', '.join(COLUMNS)} FROM {TABLE} ORDER BY id"
    for rowid, *values in db.execute(query):
        row = dict(zip(COLUMNS, values, strict=True))
        for column, value in row.items():
            kinds, expected = _KINDS[column]
            if not isinstance(value, kinds) or (column == "seed" and not _digits(value)):
                raise InputError(
                    name, f"row {rowid}: column {column} holds {value!r:.40}, not {expected}"
                )
        row["seed"] = int(row["seed"])
        row["t"] = float(row["t"])
        found.append(Activation(**row))
    return found
