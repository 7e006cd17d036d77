"""The firmware inventory: one row per activation holding the version the device's flash really
runs, rows added by `home run --inventory DB` in transactions, and `hanemu inventory show`
refusing whatever is not an inventory with one line and exit 2."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from emulator.cli import cli
from emulator.errors import InputError, OutputError
from emulator.home import load_home, scenario_for
from emulator.inventory import Activation, Inventory, read_inventory
from emulator.profiles import load_profile
from emulator.scenario import CampaignSpec, Scenario, ScenarioRun, profile_device


def invoke(*args) -> Result:
    """`hanemu ARGS` in this process (stdout and stderr apart)."""
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="hanemu")


def hanemu(*args) -> subprocess.CompletedProcess:
    """`hanemu ARGS` as a subprocess: a read that blocks fails the test instead of hanging."""
    return subprocess.run(
        [sys.executable, "-m", "emulator.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture()
def fifo(tmp_path: Path) -> Path:
    """A FIFO nobody writes to: opening it for reading the ordinary way blocks forever."""
    path = tmp_path / "inventory.fifo"
    os.mkfifo(path)
    return path


HOME = """\
[home]
name = "inv"
seed = 4
radio = "{radio}"

[[device]]
name = "ihd"
profile = "ihd-opt1"

[[device]]
name = "ppmid"
profile = "ppmid-ch-managed"

[[device]]
name = "hcalcs"
profile = "hcalcs-opt1"
expect = "rejected"

[[device]]
name = "cad"
profile = "cad"
route = "wifi"

[[campaign]]
device = "*"
build = {{ file_version = 0x0123ABCE, size = 4000 }}
at = 30

[[campaign]]
device = "hcalcs"
build = {{ file_version = 0x0123ABCE, size = 4000 }}
supplier = "rogue"
"""


def _home(tmp_path: Path, radio: str = "direct") -> Path:
    path = tmp_path / "inv.toml"
    path.write_text(HOME.format(radio=radio))
    return path


def _activations(device) -> list[dict]:
    return [e for e in device.events if e["event"] == "activated"]


def test_one_row_per_activation_with_the_version_really_running(tmp_path):
    """Each device that switched firmware has exactly one row per switch, naming it as the
    head-end knows it, and the version in the row is the one its flash runs; the device whose
    rogue activation was refused has none."""
    config = load_home(_home(tmp_path))
    with Inventory.open(tmp_path / "inv.db") as inventory:
        engine = ScenarioRun(scenario_for(config), None, None, inventory=inventory)
        report = engine.run()
    assert report.ok, [(d.name, d.outcome, d.reason) for d in report.devices]
    rows = read_inventory(tmp_path / "inv.db")
    by_device = {name: [r for r in rows if r.device == name] for name in ("ihd", "ppmid", "cad")}
    for spec, device in engine.devices:
        mine = [r for r in rows if r.device == device.name]
        assert len(mine) == len(_activations(device))
        if device.name == "hcalcs":
            assert mine == [] and device.flash.running_version == device.start_file_version
            continue
        (row,) = by_device[device.name]
        assert row.file_version == device.flash.running_version == 0x0123ABCE
        assert row.device_id == f"{device.ieee:016X}"
        if device.gb is not None:  # the GBCS entity id the head-end addresses
            assert row.device_id == device.gb.handler.config.device_id.hex().upper()
        assert row.device_type == str(spec.profile.device_type)
        assert row.profile == spec.profile.name
        assert row.route == str(spec.route)
        assert row.supplier == "A"
        assert row.t == pytest.approx(_activations(device)[0]["t"])
        assert (row.home, row.seed) == ("inv", 4)
    assert [r.t for r in rows] == sorted(r.t for r in rows)  # recorded as they happened


def test_every_switch_is_a_row_and_each_names_what_then_ran(tmp_path):
    """A device updated twice (two site visits) has two rows, each with the version its flash
    ran right after that switch (checked by a listener registered after the head-end's)."""
    profile = load_profile("ihd-opt1")
    seen: list[int] = []
    scenario = Scenario(
        name="twice",
        devices=(profile_device("ihd", profile, route="local"),),
        campaigns=(
            CampaignSpec(devices=("ihd",), build_version=0x0123ABCE, build_size=3000),
            CampaignSpec(devices=("ihd",), build_version=0x0123ABCF, build_size=3000, at=7200),
        ),
        radio="direct",
        seed=2,
    )
    with Inventory.memory() as inventory:
        engine = ScenarioRun(scenario, None, None, inventory=inventory)
        engine.hold_until = 7200 + 2 * 3600  # past the second visit (the first already settled)
        engine.on_device.append(
            lambda device: device.on_activated.append(
                lambda d, _v: seen.append(d.flash.running_version)
            )
        )
        engine.run()
        rows = inventory.rows()
    ((_spec, device),) = engine.devices
    assert len(_activations(device)) == 2
    assert [r.file_version for r in rows] == seen == [0x0123ABCE, 0x0123ABCF]
    assert device.flash.running_version == rows[-1].file_version


def test_without_an_inventory_nothing_listens(tmp_path):
    """The fast path: a run given no inventory registers no activation listener."""
    engine = ScenarioRun(scenario_for(load_home(_home(tmp_path))), None, None)
    engine.run()
    assert all(device.on_activated == [] for _spec, device in engine.devices)


def test_home_run_adds_each_runs_rows(tmp_path):
    """`home run --inventory DB` creates the inventory, a second run adds its rows, and
    `inventory show` lists them one line each (JSON too)."""
    home, db = _home(tmp_path), tmp_path / "inventory.db"
    for seed in (4, 5):
        result = invoke("home", "run", home, "--inventory", db, "--seed", seed, "--json")
        assert result.exit_code == 0, result.stderr
    rows = read_inventory(db)
    assert [r.seed for r in rows] == [4] * 3 + [5] * 3
    shown = invoke("inventory", "show", db)
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split()[:4] == ["home", "seed", "t", "(s)"]
    assert len(lines) == 1 + len(rows)
    for line, row in zip(lines[1:], rows, strict=True):
        assert line.split()[0:2] == ["inv", str(row.seed)]
        assert row.device_id in line and f"{row.file_version:08X}" in line
    as_json = invoke("inventory", "show", db, "--json")
    assert [Activation(**r) for r in json.loads(as_json.stdout)] == rows


def test_an_empty_inventory_is_shown_as_empty(tmp_path):
    Inventory.open(tmp_path / "empty.db").close()
    assert read_inventory(tmp_path / "empty.db") == []
    assert invoke("inventory", "show", tmp_path / "empty.db", "--json").stdout == "[]\n"


def _other_database(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('mine')")
    db.commit()
    db.close()
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"not a database at all\n" * 100), "not an SQLite database"),
        (_other_database, "an SQLite database without hanemu's activations table"),
    ],
)
def test_home_run_refuses_a_file_that_is_no_inventory_before_the_run(tmp_path, make, message):
    """Adding a table to someone's database, or failing at the first row, is refused before
    the network starts; the file is untouched."""
    target = tmp_path / "target"
    make(target)
    before = target.read_bytes()
    result = invoke("home", "run", _home(tmp_path), "--inventory", target)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --inventory {target}: {message}")
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert target.read_bytes() == before


def test_home_run_refuses_special_and_shared_inventory_paths(tmp_path):
    home = _home(tmp_path)
    report = tmp_path / "r.json"
    cases = [
        (("--inventory", "/dev/zero"), "error: --inventory /dev/zero: not a regular file"),
        (("--inventory", tmp_path), "is a directory"),
        (("--inventory", report, "--report", report), "the same file as --report"),
        (("--inventory", home), "would overwrite the home file"),
        (("--inventory", tmp_path / "no" / "db"), "no such directory"),
    ]
    for args, message in cases:
        result = invoke("home", "run", home, *args)
        assert result.exit_code == 2, args
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not report.exists()


def _table_with(rows_sql: str, path: Path) -> Path:
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE activations (id INTEGER PRIMARY KEY, device_id, device, device_type, "
        "profile, route, supplier, file_version, t, home, seed)"
    )
    db.execute(rows_sql)
    db.commit()
    db.close()
    return path


def test_show_refuses_what_is_no_inventory(tmp_path, fifo):
    """A missing file, a directory, /dev/zero, a FIFO, a huge file, a file that is no SQLite
    database, a database without the table or with rows that are not activations: one line,
    exit 2, no traceback, within the time cap (the FIFO would block an ordinary open)."""
    huge = tmp_path / "huge"
    with open(huge, "wb") as f:
        f.truncate(8 << 30)  # sparse: 8 GiB of zeros
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(100_000))
    cases = {
        tmp_path / "missing.db": "no such file",
        tmp_path: "is a directory, not an inventory",
        Path("/dev/zero"): "not a regular file (a character device)",
        fifo: "not a regular file (a FIFO)",
        huge: "not an SQLite database (so not an inventory)",
        junk: "not an SQLite database (so not an inventory)",
        _other_database(tmp_path / "other.db"): (
            "an SQLite database without hanemu's activations table (not an inventory)"
        ),
        _table_with(
            "INSERT INTO activations VALUES (1, 'X', 'ihd', 'IHD', 'p', 'dcc', 'A', 'v2', 1.0, "
            "'h', '0')",
            tmp_path / "bad-version.db",
        ): "row 1: column file_version holds 'v2', not an integer",
        _table_with(
            "INSERT INTO activations VALUES (7, 'X', 'ihd', 'IHD', 'p', 'dcc', 'A', 2, 1.0, "
            "'h', '9' || hex(zeroblob(3000)))",
            tmp_path / "bad-seed.db",
        ): "row 7: column seed holds",
    }
    for path, message in cases.items():
        result = hanemu("inventory", "show", path)
        assert result.returncode == 2, (path, result.stderr)
        assert result.stderr.startswith(f"error: {path}: {message}"), result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""
    with pytest.raises(InputError):
        read_inventory(huge)


def test_show_never_writes_to_the_database(tmp_path):
    db = tmp_path / "inv.db"
    with Inventory.open(db) as inventory:
        inventory.record(Activation("00", "d", None, None, None, None, 1, 0.0, "h", 0))
    before = db.read_bytes(), db.stat().st_mtime_ns
    db.chmod(0o444)
    assert invoke("inventory", "show", db).exit_code == 0
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inv.db"]  # no journal left


def _hot_journal(directory: Path) -> Path:
    """An inventory as a run killed while committing leaves it: the database file half written,
    its rollback journal still there (copied mid-transaction, while SQLite had spilled pages)."""
    directory.mkdir()
    source = directory / "live.db"
    with Inventory.open(source) as inventory:
        for i in range(200):
            inventory.record(Activation("00" * 8, "d" * 50, None, None, None, None, i, 0, "h", 0))
    writer = sqlite3.connect(source, isolation_level=None)
    writer.execute("PRAGMA cache_size = 1")  # spill changed pages into the file before COMMIT
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE activations SET device = 'half-written ' || device")
    killed = directory / "killed"
    killed.mkdir()
    for name in ("live.db", "live.db-journal"):
        shutil.copy(directory / name, killed / name)
    writer.execute("ROLLBACK")
    writer.close()
    return killed / "live.db"


def test_a_transaction_a_killed_run_left_open_is_rolled_back(tmp_path):
    """SQLite rolls the hot journal back when the inventory is next opened, by `inventory show`
    (a read-only connection could not, and failed) or by the next `home run --inventory`."""
    shown = invoke("inventory", "show", _hot_journal(tmp_path / "a"), "--json")
    assert shown.exit_code == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert [r["file_version"] for r in rows] == list(range(200))
    assert all(r["device"] == "d" * 50 for r in rows)
    db = _hot_journal(tmp_path / "b")
    result = invoke("home", "run", _home(tmp_path), "--inventory", db)
    assert result.exit_code == 0, result.stderr
    assert len(read_inventory(db)) == 203 and not Path(f"{db}-journal").exists()


def test_a_huge_seed_is_kept_whole(tmp_path):
    """A seed beyond SQLite's 64-bit integers (the CLI takes any) is stored and read back."""
    seed = 2**70 + 3
    with Inventory.open(tmp_path / "inv.db") as inventory:
        inventory.record(Activation("00", "d", None, None, None, None, 1, 0.5, "h", seed))
    assert read_inventory(tmp_path / "inv.db")[0].seed == seed


def test_opening_refuses_what_is_no_inventory(tmp_path):
    _other_database(tmp_path / "other.db")
    with pytest.raises(OutputError, match="without hanemu's activations table"):
        Inventory.open(tmp_path / "other.db")


@pytest.mark.parametrize("after_s", [0.6, 1.2, 1.8])
def test_a_killed_run_leaves_a_consistent_inventory(tmp_path, after_s):
    """SIGKILL at any moment of a zigpy-air run: the database passes SQLite's integrity check
    and holds whole rows only (each activation committed in its own transaction)."""
    home, db = _home(tmp_path, radio="zigpy"), tmp_path / "inv.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "home", "run", str(home), "--inventory", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(after_s)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    if not db.exists():
        return  # killed before the command opened it
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()
    rows = read_inventory(db)
    assert len(rows) <= 3
    assert all(r.file_version == 0x0123ABCE and r.home == "inv" for r in rows)


def test_an_interrupted_run_keeps_its_rows(tmp_path):
    """SIGINT ends the run cleanly (exit 130); the inventory holds the switches made so far."""
    home, db = _home(tmp_path, radio="zigpy"), tmp_path / "inv.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "home", "run", str(home), "--inventory", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not db.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)
    assert process.returncode in (0, 130), err  # 0: it had ended already
    rows = read_inventory(db)
    assert len(rows) <= 3 and all(r.file_version == 0x0123ABCE for r in rows)
