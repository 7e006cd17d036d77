"""The fleet results database (SQLite): the campaign, one row per home, one row per device, and
the firmware inventory of the runs, in one file.

`FleetStore.create(path, campaign)` starts a database for a campaign run (a file holding an
earlier fleet run is replaced; any other file is refused, `check_db` says so before the run),
and `add(result)` writes a home's row, its devices' rows and its inventory rows
(`emulator.inventory`, the `activations` table) in one transaction, so a run that is interrupted
or killed leaves whole homes, never a torn one. `read_fleet(path)` reads one back for
`hanemu fleet report`, refusing a directory, a file that is no SQLite database and a database
that holds no fleet run. The schema is in docs/fleet.md.

This module owns the tables and their wording; it never runs a home, never decides an outcome
and never reads wall time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from emulator.errors import InputError, OutputError
from emulator.files import not_regular, shown
from emulator.fleet.campaign import FleetCampaign
from emulator.fleet.homes import DeviceRow, HomeResult
from emulator.inventory import TABLE as INVENTORY_TABLE
from emulator.inventory import Inventory

SCHEMA = 1
"""The `schema` of the `fleet` table's row: the version of the tables below."""

_TABLES = """
CREATE TABLE fleet (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema INTEGER NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    seed INTEGER NOT NULL,
    homes INTEGER NOT NULL,
    parameters TEXT NOT NULL
);
CREATE TABLE homes (
    home INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    seed INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    wave INTEGER NOT NULL,
    started_at_s REAL NOT NULL,
    virtual_seconds REAL NOT NULL,
    ok INTEGER NOT NULL
);
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    home INTEGER NOT NULL REFERENCES homes (home),
    home_seed INTEGER NOT NULL,
    kind TEXT NOT NULL,
    device TEXT NOT NULL,
    device_type TEXT NOT NULL,
    profile TEXT NOT NULL,
    route TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    expected TEXT NOT NULL,
    as_expected INTEGER NOT NULL,
    time_to_update_s REAL,
    updated_at_s REAL,
    dcc_messages INTEGER NOT NULL,
    site_visits INTEGER NOT NULL,
    engineer_minutes INTEGER NOT NULL,
    findings TEXT NOT NULL,
    retries INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    blocks INTEGER NOT NULL
);
"""
DEVICE_COLUMNS = tuple(f.name for f in fields(DeviceRow))
HOME_COLUMNS = ("home", "kind", "seed", "attempts", "wave", "started_at_s", "virtual_seconds", "ok")
FLEET_TABLES = ("fleet", "homes", "devices")


def _special(path: Path, name: str, error: type[InputError] | type[OutputError]) -> bool:
    """Whether `path` exists; refuse a directory, FIFO, device or socket."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        raise error(name, f"cannot open: {getattr(exc, 'strerror', None) or exc}") from None
    complaint = not_regular(mode, "fleet database")
    if complaint is not None:
        raise error(name, complaint)
    return True


def _connect(path: Path) -> sqlite3.Connection:
    """A connection that never creates the file and changes nothing (SQLite may still roll
    back what a killed run left half-committed, as `emulator.inventory` explains)."""
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=rw"
    db = sqlite3.connect(uri, uri=True)
    db.execute("PRAGMA query_only = ON")
    return db


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _reason(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text:
        return "not an SQLite database (so not a fleet database)"
    return f"cannot use it: {text}"


def check_db(path: Path, *, label: str = "--db") -> None:
    """Refuse, before a run, a path that is a directory or special file, a directory that does
    not exist, or a file that holds something other than an earlier fleet run (which a run
    replaces) or nothing."""
    name = f"{label} {shown(path)}"
    if not _special(path, name, OutputError):
        parent = path.parent
        if not parent.is_dir():
            raise OutputError(name, f"no such directory {shown(parent)}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(name, f"cannot write in {shown(parent)}")
        return
    if path.stat().st_size == 0:
        return
    try:
        db = _connect(path)
        try:
            tables = _tables(db)
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise OutputError(name, _reason(exc)) from None
    if "fleet" not in tables:
        raise OutputError(name, "an SQLite database that holds no fleet run (not replaced)")


class FleetStore:
    """A fleet run's database, open for writing."""

    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        self._db = db
        self.name = name
        self.inventory = Inventory.within(db, name)

    @classmethod
    def create(cls, path: Path, campaign: FleetCampaign, *, label: str = "--db") -> FleetStore:
        """A new database at `path` for a run of `campaign` (an earlier fleet run there is
        replaced)."""
        check_db(path, label=label)
        name = f"{label} {shown(path)}"
        for stale in (path, Path(f"{path}-journal")):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        try:
            db = sqlite3.connect(os.fspath(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise OutputError(name, f"cannot open: {exc}") from None
        try:
            store = cls(db, name)
            with store.inventory.batch():
                for statement in filter(str.strip, _TABLES.split(";")):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO fleet (id, schema, name, source, seed, homes, parameters) "
                    "VALUES (1, ?, ?, ?, ?, ?, ?)",
                    (
                        SCHEMA,
                        campaign.name,
                        campaign.source,
                        campaign.seed,
                        campaign.homes,
                        json.dumps(campaign.parameters()),
                    ),
                )
        except sqlite3.Error as exc:
            db.close()
            raise OutputError(name, f"cannot write: {exc}") from None
        return store

    def add(self, result: HomeResult) -> None:
        """Write one home (its row, its devices' rows, its activations): all or nothing."""
        try:
            with self.inventory.batch():
                self._db.execute(
                    f"INSERT INTO homes ({', '.join(HOME_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in HOME_COLUMNS)})",
                    (
                        result.index,
                        result.kind,
                        result.seed,
                        result.attempts,
                        result.wave,
                        result.started_at_s,
                        result.virtual_seconds,
                        int(result.ok),
                    ),
                )
                self._db.executemany(
                    f"INSERT INTO devices ({', '.join(DEVICE_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in DEVICE_COLUMNS)})",
                    [_device_values(d) for d in result.devices],
                )
                for activation in result.activations:
                    self.inventory.record(activation)
        except sqlite3.Error as exc:
            raise OutputError(self.name, f"cannot write home {result.index}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FleetStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _device_values(d: DeviceRow) -> tuple[Any, ...]:
    values = []
    for column in DEVICE_COLUMNS:
        value = getattr(d, column)
        if column == "findings":
            value = json.dumps([{"severity": s, "kind": k} for s, k in value])
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    return tuple(values)


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FleetData:
    """A fleet run as its database holds it."""

    parameters: dict[str, Any]
    homes: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    activations: int


_NUMBER = (int, float)
_DEVICE_KINDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "home": ((int,), False),
    "home_seed": ((int,), False),
    "time_to_update_s": (_NUMBER, True),
    "updated_at_s": (_NUMBER, True),
    "dcc_messages": ((int,), False),
    "site_visits": ((int,), False),
    "engineer_minutes": ((int,), False),
    "retries": ((int,), False),
    "bytes": ((int,), False),
    "blocks": ((int,), False),
    "as_expected": ((int,), False),
    "reason": ((str,), True),
}
"""What the device columns that are not plain text must hold (any other column: text)."""


def read_fleet(path: Path) -> FleetData:
    """The fleet run at `path`; one `InputError` naming the path for anything that is not one."""
    name = shown(path)
    if not _special(path, name, InputError):
        raise InputError(name, "no such file")
    try:
        db = _connect(path)
    except sqlite3.Error as exc:
        raise InputError(name, _reason(exc)) from None
    try:
        missing = [t for t in FLEET_TABLES if t not in _tables(db)]
        if missing:
            raise InputError(
                name, f"no fleet run in it (no {', '.join(missing)} table): not a fleet database"
            )
        found = db.execute("SELECT schema, parameters FROM fleet WHERE id = 1").fetchone()
        if found is None or found[0] != SCHEMA:
            raise InputError(name, "its fleet table holds no run of this schema")
        try:
            parameters = json.loads(found[1])
        except (TypeError, ValueError):
            parameters = None
        if not isinstance(parameters, dict):
            raise InputError(name, "its fleet table's parameters are not a JSON object")
        homes = _select(db, name, "homes", HOME_COLUMNS, "home")
        devices = _select(db, name, "devices", DEVICE_COLUMNS, "id")
        for i, row in enumerate(devices):
            _check_device(name, i, row)
        activations = 0
        if INVENTORY_TABLE in _tables(db):
            activations = db.execute(f"SELECT count(*) FROM {INVENTORY_TABLE}").fetchone()[0]
    except sqlite3.Error as exc:
        raise InputError(name, _reason(exc)) from None
    finally:
        db.close()
    return FleetData(parameters, homes, devices, activations)


def _select(
    db: sqlite3.Connection, name: str, table: str, columns: tuple[str, ...], order: str
) -> list[dict[str, Any]]:
    have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
    missing = [c for c in columns if c not in have]
    if missing:
        raise InputError(name, f"its {table} table lacks column(s) {', '.join(missing)}")
    query = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"
    return [dict(zip(columns, values, strict=True)) for values in db.execute(query)]


def _check_device(name: str, i: int, row: dict[str, Any]) -> None:
    for column, value in row.items():
        kinds, optional = _DEVICE_KINDS.get(column, ((str,), False))
        if (value is None and optional) or (
            isinstance(value, kinds) and not isinstance(value, bool)
        ):
            continue
        raise InputError(name, f"devices row {i + 1}: column {column} holds {value!r:.40}")
    try:
        findings = json.loads(row["findings"])
        row["findings"] = [(str(f["severity"]), str(f["kind"])) for f in findings]
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(
            name, f"devices row {i + 1}: column findings is not a list of findings ({exc})"
        ) from None
    row["as_expected"] = bool(row["as_expected"])
