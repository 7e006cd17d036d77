"""Bad input to `hanemu fleet run` and `fleet report`: one line naming the file and key (or the
option), exit 2, nothing run."""

from __future__ import annotations

import sqlite3

import pytest

from emulator.errors import ConfigError
from emulator.fleet import load_campaign
from emulator.fleet.campaign import DEFAULT_CAMPAIGN
from emulator.inventory import Inventory

from .conftest import SMALL, campaign_file, hanemu, one_line_error

CASES = [
    ("[campaign\nhomes = 3\n", "invalid TOML"),
    (SMALL + "\n[extra]\n", "key extra: unknown key"),
    (SMALL.replace("seed = 7", "seed = 7\nspeed = 3"), "key campaign.speed: unknown key"),
    (SMALL.replace("cad = 0.25\n", "cad = 0.5\n", 1), "key mix: the shares must sum to 1"),
    (SMALL.replace("cad = 0.25\n", "cad = -0.25\n", 1), "key mix.cad: must be in 0..1"),
    (SMALL.replace("cad = 0.25\n", "bungalow = 0.25\n", 1), "key mix.bungalow: unknown key"),
    (SMALL.replace('ihd = "ihd-opt2"', 'ihd = "ppmid-opt1"'), "is a PPMID, not a IHD"),
    (SMALL.replace('ihd = "ihd-opt2"', 'ihd = "ihd-opt9"'), "key options.ihd: unknown profile"),
    (SMALL.replace('cad = "cad"\n', ""), "key options.cad: missing: homes of the mix have one"),
    (SMALL.replace("homes = 8", "homes = 0"), "key campaign.homes: must be in 1..1000000"),
    (SMALL.replace("size = 2000", 'size = "big"'), "key image.size: must be an integer"),
    (SMALL.replace("retries = 1", 'radio = "ezsp:/dev/null"'), "key campaign.radio: must be"),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_a_bad_campaign_file_is_one_config_error(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_campaign(campaign_file(tmp_path, text))
    assert message in str(caught.value) and "small.toml" in str(caught.value)


def test_the_shipped_campaign_loads():
    campaign = load_campaign(DEFAULT_CAMPAIGN)
    assert campaign.homes == 1000 and campaign.image_size > 250 * 1024
    assert abs(sum(share for _kind, share in campaign.mix) - 1) < 1e-9


def test_bad_input_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    good = campaign_file(tmp_path)
    bad = campaign_file(tmp_path, CASES[0][0], "bad.toml")
    unsummed = campaign_file(tmp_path, CASES[3][0], "unsummed.toml")
    directory = tmp_path / "a-directory"
    directory.mkdir()
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database\n")
    inventory = tmp_path / "inventory.sqlite"
    Inventory.open(inventory).close()
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    db = tmp_path / "fleet.sqlite"
    cases = [
        (("fleet", "run", bad, "--db", db), "bad.toml: invalid TOML"),
        (("fleet", "run", unsummed, "--db", db), "key mix: the shares must sum to 1"),
        (("fleet", "run", tmp_path / "missing.toml", "--db", db), "no such campaign file"),
        (("fleet", "run", good, "--homes", 0, "--db", db), "--homes"),
        (("fleet", "run", good, "--homes", 10**9, "--db", db), "--homes"),
        (("fleet", "run", good, "--db", directory), "is a directory"),
        (("fleet", "run", good, "--db", not_sqlite), "not an SQLite database"),
        (("fleet", "run", good, "--db", other), "holds no fleet run"),
        (("fleet", "run", good, "--db", good), "would overwrite the campaign file"),
        (("fleet", "run", good, "--db", db, "--workers", 2, "--scheduler", "x:1"), "exclude"),
        (("fleet", "run", good, "--db", db, "--workers", 0), "--workers"),
        (("fleet", "report", inventory, "--out", tmp_path / "o"), "not a fleet database"),
        (("fleet", "report", other, "--out", tmp_path / "o"), "not a fleet database"),
        (("fleet", "report", not_sqlite, "--out", tmp_path / "o"), "not an SQLite database"),
        (("fleet", "report", directory, "--out", tmp_path / "o"), "is a directory"),
        (("fleet", "report", tmp_path / "none.sqlite", "--out", tmp_path / "o"), "no such file"),
    ]
    for args, message in cases:
        one_line_error(hanemu(*args), message)
    assert not db.exists() and not (tmp_path / "o").exists()
    assert not_sqlite.read_text() == "not a database\n"
