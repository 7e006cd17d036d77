"""`hanemu fleet run`: real runs of small campaigns into a real SQLite database; one home
replayed alone; retries; the DCC's refusal as an option's expected outcome; Dask workers give
the same rows as one process; an interrupted run leaves whole homes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from emulator.fleet import home_seed, kinds, load_campaign, run_home
from emulator.fleet.campaign import KINDS
from emulator.fleet.store import read_fleet
from emulator.inventory import read_inventory

from .conftest import SMALL, campaign_file, hanemu

TABLES = ("fleet", "homes", "devices", "activations")


def _dump(db: Path) -> dict[str, list[tuple]]:
    connection = sqlite3.connect(db)
    try:
        return {t: list(connection.execute(f"SELECT * FROM {t} ORDER BY rowid")) for t in TABLES}
    finally:
        connection.close()


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    path = campaign_file(tmp)
    db = tmp / "fleet.sqlite"
    result = hanemu("fleet", "run", path, "--db", db, "--report", tmp / "summary.json")
    return result, path, db, tmp


def test_a_run_writes_one_row_per_device_and_the_inventory(small_run):
    result, _path, db, tmp = small_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every device as expected" in result.stdout
    data = read_fleet(db)
    assert [h["home"] for h in data.homes] == list(range(8))
    assert Counter(h["kind"] for h in data.homes) == dict.fromkeys(KINDS, 2)  # shares, exactly
    for h in data.homes:
        devices = [d for d in data.devices if d["home"] == h["home"]]
        assert [d["device_type"] for d in devices] == [str(t) for t in KINDS[h["kind"]]]
        assert {d["home_seed"] for d in devices} == {h["seed"]} == {home_seed(7, h["home"])}
        assert h["wave"] == h["home"] // 3 and h["started_at_s"] == 600 * h["wave"]
    by_type = {d["device_type"]: d for d in data.devices}
    assert {t: d["route"] for t, d in by_type.items()} == {
        "IHD": "dcc", "PPMID": "dcc", "HCALCS": "local", "CAD": "wifi"
    }  # fmt: skip
    for d in data.devices:
        assert d["outcome"] == d["expected"] == "activated" and d["as_expected"]
        assert d["time_to_update_s"] > 0 and d["retries"] == 0
        home = data.homes[d["home"]]
        assert d["updated_at_s"] == pytest.approx(home["started_at_s"] + d["time_to_update_s"])
        if d["device_type"] == "IHD":  # option 2: the Display Message is a finding
            assert d["findings"] == [("medium", "display-message-activation")]
            assert d["dcc_messages"] > 0
        if d["device_type"] == "HCALCS":
            assert (d["site_visits"], d["engineer_minutes"]) == (1, 90)
        if d["device_type"] == "CAD":
            assert d["dcc_messages"] == 0 and d["findings"] == []
    inventory = read_inventory(db)  # `hanemu inventory show` reads a fleet database as it is
    assert sorted((r.home, r.device) for r in inventory) == sorted(
        (f"home-{d['home']:07d}", d["device"]) for d in data.devices
    )
    assert all(r.file_version == 0x0123ABCE for r in inventory)
    summary = json.loads((tmp / "summary.json").read_text())
    assert summary["as_expected"] is True and summary["devices"] == len(data.devices)
    assert [g["device_type"] for g in summary["groups"]] == ["IHD", "PPMID", "HCALCS", "CAD"]
    assert summary["campaign"]["routes"] == {
        "ihd": "dcc", "ppmid": "dcc", "hcalcs": "local", "cad": "wifi"
    }  # fmt: skip


def test_any_home_replays_alone(small_run):
    """A home's rows follow from the campaign's seed and its index only."""
    _result, path, db, _tmp = small_run
    campaign = load_campaign(path)
    plan = kinds(campaign)
    rows = read_fleet(db).devices
    for index in (5, 2):
        replayed = run_home(campaign, index, plan[index])
        stored = [d for d in rows if d["home"] == index]
        assert len(stored) == len(replayed.devices)
        for row, device in zip(stored, replayed.devices, strict=True):
            assert row["outcome"] == device.outcome and row["home_seed"] == device.home_seed
            assert row["time_to_update_s"] == device.time_to_update_s
            assert row["dcc_messages"] == device.dcc_messages and row["bytes"] == device.bytes


def test_the_same_seed_gives_the_same_database(small_run, tmp_path):
    _result, path, db, _tmp = small_run
    again = tmp_path / "again.sqlite"
    assert hanemu("fleet", "run", path, "--db", again).returncode == 0
    assert _dump(again) == _dump(db)
    other = tmp_path / "other.sqlite"
    assert hanemu("fleet", "run", path, "--db", other, "--seed", 8).returncode == 0
    assert _dump(other)["devices"] != _dump(db)["devices"]


def test_two_dask_workers_give_the_same_rows_as_one_process(small_run, tmp_path):
    """A real LocalCluster of 2 worker processes: homes in chunks, merged in home order."""
    _result, path, db, _tmp = small_run
    sharded = tmp_path / "sharded.sqlite"
    result = hanemu("fleet", "run", path, "--db", sharded, "--workers", 2)
    assert result.returncode == 0, result.stderr
    assert _dump(sharded) == _dump(db)


def test_a_home_that_failed_is_run_again_with_new_seeds_and_counted(tmp_path):
    """Too little time for a download: every attempt fails; each retry is a new derived seed."""
    text = SMALL.replace("retries = 1", "retries = 2\nduration = 20").replace(
        "homes = 8", "homes = 2"
    )
    text = text.replace("single_fuel = 0.25\n    dual_fuel = 0.25\n    hcalcs = 0.25\n    "
                        "cad = 0.25", "single_fuel = 1")  # fmt: skip
    path = campaign_file(tmp_path, text)
    db = tmp_path / "fleet.sqlite"
    result = hanemu("fleet", "run", path, "--db", db)
    assert result.returncode == 1, result.stderr
    assert "NOT every device as expected" in result.stdout
    data = read_fleet(db)
    for h in data.homes:
        assert h["attempts"] == 3 and not h["ok"]
        assert h["seed"] == home_seed(7, h["home"], 2)
        assert h["virtual_seconds"] == pytest.approx(3 * 20, abs=3)
    for d in data.devices:
        assert d["retries"] == 2 and d["outcome"] == "failed" and not d["as_expected"]
        assert d["time_to_update_s"] is None and d["updated_at_s"] is None


def test_a_dcc_refusal_is_the_expected_outcome_of_an_out_of_scope_option(tmp_path):
    text = SMALL.replace('ihd = "ihd-opt2"', 'ihd = "ihd-opt1-without-opt3"').replace(
        "homes = 8", "homes = 2"
    )
    text = text.replace("single_fuel = 0.25\n    dual_fuel = 0.25\n    hcalcs = 0.25\n    "
                        "cad = 0.25", "single_fuel = 1")  # fmt: skip
    db = tmp_path / "fleet.sqlite"
    result = hanemu("fleet", "run", campaign_file(tmp_path, text), "--db", db)
    assert result.returncode == 0, result.stdout + result.stderr
    for d in read_fleet(db).devices:
        assert (d["outcome"], d["expected"], d["retries"]) == ("rejected", "rejected", 0)
        assert "the DCC refused it" in d["reason"] and "option 3" in d["reason"]


def test_an_interrupted_run_leaves_whole_homes(tmp_path):
    """SIGINT while homes run: exit 130, and every home in the database is whole (its row, all
    its devices' rows, its activations), none half-written."""
    text = SMALL.replace("homes = 8", "homes = 400")
    path = campaign_file(tmp_path, text)
    db = tmp_path / "fleet.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "fleet", "run", str(path), "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        try:
            homes = sqlite3.connect(db).execute("SELECT count(*) FROM homes").fetchone()[0]
        except sqlite3.Error:
            continue
        if homes >= 3:
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.splitlines()[-1] == "interrupted" and stdout == ""
    data = read_fleet(db)
    assert 3 <= len(data.homes) < 400
    assert [h["home"] for h in data.homes] == list(range(len(data.homes)))
    for h in data.homes:
        devices = [d for d in data.devices if d["home"] == h["home"]]
        assert [d["device_type"] for d in devices] == [str(t) for t in KINDS[h["kind"]]]
    assert {d["home"] for d in data.devices} == {h["home"] for h in data.homes}
    assert len(read_inventory(db)) == sum(d["outcome"] == "activated" for d in data.devices)
