"""Every `ServerPolicy` knob is a home file's `[server]` key: misbehaving servers as data."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from emulator.errors import HomeFileError
from emulator.home import load_home, run_home, scenario_for
from emulator.homefile import SERVER_KEYS_OF_FIELDS, SERVER_KNOBS
from emulator.ota.policy import ServerFault, ServerPolicy, VersionPolicy

HOMES_DOC = Path(__file__).resolve().parents[2] / "docs" / "homes.md"

HOME = """
[home]
radio = "direct"
duration = 7200

[server]
{server}

[[device]]
name = "hcalcs"
profile = "hcalcs-opt1"

[[campaign]]
build = {{ file_version = 0x0123ABCE, size = 2000 }}
"""


def test_every_server_policy_field_is_a_server_key():
    fields = {f.name for f in dataclasses.fields(ServerPolicy)}
    assert fields == set(SERVER_KNOBS) | set(SERVER_KEYS_OF_FIELDS)
    assert not set(SERVER_KNOBS) & set(SERVER_KEYS_OF_FIELDS)


def test_docs_homes_names_every_server_key():
    text = HOMES_DOC.read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))
    assert set(SERVER_KNOBS) <= documented
    for fault in ServerFault:
        assert f"`{fault.value}`" in text, fault


def test_knobs_reach_the_hubs_server_policy(home_file):
    server = """
    version_policy = "any"
    misbehaviour = "endless-wait"
    misbehave_from_offset = 100
    misbehave_count = 2
    release_after_s = 5
    use_utc = true
    minimum_block_period = 250
    """
    policy = scenario_for(load_home(home_file(HOME.format(server=server)))).server
    assert policy.version_policy is VersionPolicy.ANY
    assert policy.misbehaviour is ServerFault.ENDLESS_WAIT
    assert (policy.misbehave_from_offset, policy.misbehave_count) == (100, 2)
    assert policy.release_after_s == 5.0 and isinstance(policy.release_after_s, float)
    assert policy.use_utc and policy.min_block_period == 250


def test_an_empty_server_table_is_the_default_policy(home_file):
    home = load_home(home_file(HOME.format(server="")))
    assert home.server.knobs == ()
    assert scenario_for(home).server == ServerPolicy(upgrade_delay_s=0)  # upgrade_time "now"


def test_a_misbehaving_server_from_a_home_file_shows_in_the_run(home_file):
    """A corrupting hub: the device stores a corrupted byte and refuses the image."""
    server = 'misbehaviour = "corrupt-data"\nmisbehave_from_offset = 500\nmisbehave_count = 1'
    report = run_home(load_home(home_file(HOME.format(server=server))))
    (device,) = report.devices
    assert device.outcome == "rejected"


@pytest.mark.parametrize(
    ("server", "key", "words"),
    [
        ('misbehaviour = "sulk"', "server.misbehaviour", "must be one of none, stall"),
        ("wait_for_data_s = -1", "server.wait_for_data_s", "must be a number in"),
        ('use_utc = "yes"', "server.use_utc", "must be a boolean"),
        ("release_after_s = true", "server.release_after_s", "must be"),
        ("misbehave_count = 1.5", "server.misbehave_count", "must be an integer"),
        ("min_block_period_scale = 2", "server.min_block_period_scale", "must be a number in"),
        ("mood = 1", "server.mood", "unknown key"),
    ],
)
def test_a_bad_server_knob_names_its_key(home_file, server, key, words):
    with pytest.raises(HomeFileError) as info:
        load_home(home_file(HOME.format(server=server)))
    message = str(info.value)
    assert f"key {key}:" in message and words in message, message
