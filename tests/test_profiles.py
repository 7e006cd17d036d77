"""Device profiles: the shipped files, inheritance, one-line errors, the README, the CLI."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.errors import ProfileError
from emulator.ota.policy import ClientPolicy
from emulator.profiles import PROFILES_DIR, load_all, load_profile, profile_names

README = PROFILES_DIR / "README.md"
EXPECTED = {
    # name: (device type, activation, supplier slots, extends)
    "ihd": ("IHD", "local-only", 0, ()),
    "ppmid": ("PPMID", "local-only", 0, ()),
    "hcalcs": ("HCALCS", "local-only", 0, ()),
    "cad": ("CAD", "local-only", 0, ()),
    "ihd-opt1": ("IHD", "critical", 2, ("ihd",)),
    "ppmid-opt1": ("PPMID", "non-critical", 0, ("ppmid",)),
    "ppmid-opt2": ("PPMID", "critical", 2, ("ppmid",)),
    "ppmid-ch-managed": ("PPMID", "ch-managed", 0, ("ppmid",)),
    "hcalcs-opt1": ("HCALCS", "critical", 1, ("hcalcs",)),
    "ihd-opt2": ("IHD", "display-message", 0, ("ihd",)),
    "ihd-opt6": ("IHD", "local-only", 0, ("ihd",)),
    "ppmid-opt4": ("PPMID", "local-only", 0, ("ppmid",)),
    "hcalcs-opt2": ("HCALCS", "local-only", 0, ("hcalcs",)),
    "ihd-opt1-without-opt3": ("IHD", "critical", 0, ("ihd-opt1", "ihd")),
    "ihd-opt1-without-opt4": ("IHD", "critical", 2, ("ihd-opt1", "ihd")),
    "ihd-opt5-proactive": ("IHD", "local-only", 0, ("ihd",)),
    "ihd-opt5-reactive": ("IHD", "local-only", 0, ("ihd-opt5-proactive", "ihd")),
    "ppmid-opt3-proactive": ("PPMID", "local-only", 0, ("ppmid",)),
    "ppmid-opt3-reactive": ("PPMID", "local-only", 0, ("ppmid-opt3-proactive", "ppmid")),
}


# --- the shipped profiles ----------------------------------------------------------------------


def test_shipped_profiles_are_the_named_set():
    assert set(profile_names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_profile_resolves(name):
    profile = load_profile(name)
    device_type, activation, slots, extends = EXPECTED[name]
    assert (profile.device_type, profile.activation, profile.supplier_slots) == (
        device_type,
        activation,
        slots,
    )
    assert profile.extends == extends
    assert profile.zigbee.profile_id == 0x0109
    assert isinstance(profile.ota, ClientPolicy)
    assert profile.ota.hardware_version == profile.zigbee.hardware_version
    assert ("dcc" in profile.routes) == (activation != "local-only")


def test_children_inherit_the_base_identity():
    for child, base in (("ihd-opt1", "ihd"), ("ppmid-opt2", "ppmid"), ("hcalcs-opt1", "hcalcs")):
        assert load_profile(child).zigbee == load_profile(base).zigbee
        assert load_profile(child).ota == load_profile(base).ota


def test_cad_is_never_on_the_dcc_route():
    cad = load_profile("cad")
    assert cad.provenance == "consumer" and "dcc" not in cad.routes


# --- building profiles in a scratch directory ---------------------------------------------------

BASE = """
description = "base"
device_type = "PPMID"
activation = "local-only"
supplier_slots = 0
provenance = "supplier"
consent_required = false
routes = ["local"]

[zigbee]
profile_id = 0x0109
device_id = 0x0506
manufacturer_id = 0x1234
image_type = 0x0102
hardware_version = 3
firmware_version = 0x01020304
node_type = "router"
sleepy = false
endpoints = [{ id = 1, input_clusters = [0x0000], output_clusters = [0x0019] }]

[ota]
max_data_size = 40
query_interval_s = 600
"""


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "profiles"
    directory.mkdir()
    (directory / "base.toml").write_text(BASE)

    def write(name: str, text: str) -> Path:
        (directory / f"{name}.toml").write_text(text)
        return directory

    return write


def test_inheritance_merges_tables_key_by_key(scratch):
    directory = scratch(
        "child",
        'extends = "base"\nactivation = "critical"\nsupplier_slots = 2\nroutes = ["dcc"]\n'
        "[ota]\nquery_interval_s = 60\nallow_downgrade = true\npage_timeout_s = 2\n",
    )
    child = load_profile("child", directory)
    assert child.ota.max_data_size == 40  # from the base
    assert child.ota.query_interval_s == 60  # overridden
    assert child.ota.allow_downgrade is True
    assert child.ota.page_timeout_s == 2.0 and isinstance(child.ota.page_timeout_s, float)
    assert child.ota.hardware_version == 3
    assert child.ota.storage_size == ClientPolicy().storage_size  # default
    assert child.routes == ("dcc",)
    assert child.extends == ("base",)


def test_every_client_policy_knob_maps_from_the_ota_table(scratch):
    def toml(value):
        return json.dumps(value) if not isinstance(value, bool) else str(value).lower()

    # TOML has no null: a knob whose default is None (not set) is written only to set it.
    knobs = {
        f.name: f.default
        for f in dataclasses.fields(ClientPolicy)
        if f.name != "hardware_version" and f.default is not None
    }
    lines = [f"{name} = {toml(value)}" for name, value in knobs.items()]
    directory = scratch("all", 'extends = "base"\n[ota]\n' + "\n".join(lines) + "\n")
    assert load_profile("all", directory).ota == ClientPolicy(hardware_version=3)


def test_a_misbehaviour_knob_not_set_by_default_is_set_from_the_ota_table(scratch):
    text = 'extends = "base"\n[ota]\nstop_after_blocks = 3\nupgrade_end_status = 0x95\n'
    ota = load_profile("stalls", scratch("stalls", text)).ota
    assert (ota.stop_after_blocks, ota.upgrade_end_status) == (3, 0x95)
    with pytest.raises(ProfileError, match=r"ota\.upgrade_end_status"):
        load_profile("bad", scratch("bad", 'extends = "base"\n[ota]\nupgrade_end_status = 256\n'))


def test_two_level_inheritance_chain(scratch):
    scratch("mid", 'extends = "base"\ndescription = "mid"\n')
    directory = scratch("leaf", 'extends = "mid"\n[zigbee]\nimage_type = 7\n')
    leaf = load_profile("leaf", directory)
    assert leaf.extends == ("mid", "base")
    assert leaf.description == "mid"
    assert leaf.zigbee.image_type == 7
    assert leaf.zigbee.device_id == 0x0506


BROKEN = [
    # (file text, file named in the error, key named in the error, words in the message)
    ('extends = "base"\ncolour = "red"\n', "bad", "colour", "unknown key"),
    ('extends = "base"\nsupplier_slots = 3\n', "bad", "supplier_slots", "must be one of 0, 1, 2"),
    ('extends = "base"\nsupplier_slots = "2"\n', "bad", "supplier_slots", "must be an integer"),
    ('extends = "base"\nconsent_required = 1\n', "bad", "consent_required", "boolean"),
    ('extends = "base"\nactivation = "sometimes"\n', "bad", "activation", "must be one of"),
    ('extends = "base"\nroutes = ["dcc", "pigeon"]\n', "bad", "routes", "distinct routes"),
    ('extends = "base"\nroutes = []\n', "bad", "routes", "non-empty"),
    ('extends = "base"\n[zigbee]\ndevice_id = 0x10000\n', "bad", "zigbee.device_id", "0xFFFF"),
    ('extends = "base"\n[zigbee]\nsleepy = "no"\n', "bad", "zigbee.sleepy", "boolean"),
    (
        'extends = "base"\n[zigbee]\nendpoints = [{ id = 1 }]\n',
        "bad",
        "zigbee.endpoints[0].input_clusters",
        "missing",
    ),
    (
        'extends = "base"\n[zigbee]\nendpoints = [{ id = 1, input_clusters = [], '
        "output_clusters = [0x70000] }]\n",
        "bad",
        "zigbee.endpoints[0].output_clusters",
        "cluster ids",
    ),
    (
        'extends = "base"\n[zigbee]\nendpoints = [{ id = 1, input_clusters = [], '
        "output_clusters = [0x0702] }]\n",
        "bad",
        "zigbee.endpoints",
        "OTA cluster",
    ),
    ('extends = "base"\n[zigbee]\nprofile_id = 0x0104\n', "bad", "zigbee.profile_id", "0x0109"),
    ('extends = "base"\n[zigbee]\nsleepy = true\n', "bad", "zigbee.sleepy", "end-device"),
    ('extends = "base"\n[ota]\nmax_block = 5\n', "bad", "ota.max_block", "ClientPolicy"),
    ('extends = "base"\n[ota]\nmax_data_size = "big"\n', "bad", "ota.max_data_size", "integer"),
    ('extends = "base"\n[ota]\nmax_data_size = 300\n', "bad", "ota.max_data_size", "[1, 255]"),
    ('extends = "base"\n[ota]\nallow_downgrade = 1\n', "bad", "ota.allow_downgrade", "boolean"),
    (
        'extends = "base"\n[ota]\ncountdown_mode = "lazy"\n',
        "bad",
        "ota.countdown_mode",
        "must be one of",
    ),
    (
        'extends = "base"\n[ota]\nhardware_version = 2\n',
        "bad",
        "ota.hardware_version",
        "zigbee.hardware_version",
    ),
    (
        'extends = "base"\n[wifi]\nmode = "proactive"\n',
        "bad",
        "wifi",
        'only a device with the "wifi" route',
    ),
    ('extends = "base"\nactivation = "non-critical"\n', "bad", "routes", '"dcc" route'),
    (
        'extends = "base"\nprovenance = "consumer"\nroutes = ["dcc"]\n',
        "bad",
        "routes",
        "supplier or mandated",
    ),
    ('extends = "nowhere"\n', "bad", "extends", "no profile named"),
    ('extends = "bad"\n', "bad", "extends", "cycle"),
    ("extends = 5\n", "bad", "extends", "profile name"),
    ('description = "no rest"\n', "bad", "device_type", "missing"),
]


@pytest.mark.parametrize(("text", "file", "key", "words"), BROKEN)
def test_broken_profile_names_file_and_key(scratch, text, file, key, words):
    directory = scratch("bad", text)
    with pytest.raises(ProfileError) as info:
        load_profile("bad", directory)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"profiles/{file}.toml: key {key}: ")
    assert words in message
    assert info.value.key == key


def test_error_in_an_inherited_key_names_the_base_file(scratch):
    scratch("base", BASE.replace("max_data_size = 40", "max_data_size = 0"))
    directory = scratch("child", 'extends = "base"\n')
    with pytest.raises(ProfileError, match=r"^profiles/base\.toml: key ota\.max_data_size: "):
        load_profile("child", directory)


def test_invalid_toml_is_one_line_naming_the_file(scratch):
    directory = scratch("bad", 'description = "unterminated\n')
    with pytest.raises(ProfileError) as info:
        load_profile("bad", directory)
    assert str(info.value).startswith("profiles/bad.toml: invalid TOML")
    assert "\n" not in str(info.value)


def test_missing_profile(scratch):
    directory = scratch("x", BASE)
    with pytest.raises(ProfileError, match=r"profiles/nope\.toml: no such profile file") as err:
        load_profile("nope", directory)
    assert str(err.value).endswith("(profiles: base, x)")  # names the profiles that exist


@pytest.mark.parametrize("name", ["../ihd", "IHD", "a b"])
def test_profile_names_are_plain(name):
    with pytest.raises(ProfileError, match="profile names are lower-case"):
        load_profile(name)


def test_profiles_are_frozen():
    profile = load_profile("ihd-opt1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.activation = "non-critical"  # type: ignore[misc]


# --- the README documents every key -----------------------------------------------------------


def _resolved_keys(data, prefix=""):
    keys = set()
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            keys |= _resolved_keys(value, f"{dotted}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            keys.add(dotted)
            keys |= {f"{dotted}[].{k}" for k in value[0]}
        else:
            keys.add(dotted)
    return keys


def test_readme_documents_every_key():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", README.read_text(), flags=re.M))
    needed = {"extends"}
    for key in _resolved_keys(load_profile("ihd-opt1").to_dict()):
        if key in {"name", "source"}:  # derived from the file, not keys in it
            continue
        needed.add(key.rsplit(".", 1)[-1])
    assert needed <= documented, f"undocumented: {sorted(needed - documented)}"
    assert {f.name for f in dataclasses.fields(ClientPolicy)} <= documented


def test_readme_lists_every_shipped_profile():
    text = README.read_text()
    for name in profile_names():
        assert f"| `{name}` |" in text


# --- CLI ----------------------------------------------------------------------------------------


def _leaf_keys(data, prefix=""):
    keys = set()
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            keys |= _leaf_keys(value, f"{dotted}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for index, inner in enumerate(value):
                keys |= _leaf_keys(inner, f"{dotted}[{index}].")
        else:
            keys.add(dotted)
    return keys


@pytest.mark.parametrize("name", ["ppmid-ch-managed", "ihd-opt1", "cad"])
def test_cli_show_prints_every_resolved_key(name):
    result = CliRunner().invoke(cli, ["profiles", "show", name])
    assert result.exit_code == 0, result.output
    shown = dict(line.split(" = ", 1) for line in result.output.splitlines())
    expected = load_profile(name).to_dict()
    assert set(shown) == _leaf_keys(expected)
    assert shown["activation"] == json.dumps(expected["activation"])
    assert shown["zigbee.device_id"] == f"0x{expected['zigbee']['device_id']:04X}"
    assert shown["ota.max_data_size"] == str(expected["ota"]["max_data_size"])


def test_cli_show_json_is_the_resolved_profile():
    result = CliRunner().invoke(cli, ["profiles", "show", "hcalcs-opt1", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data == load_profile("hcalcs-opt1").to_dict()
    assert data["ota"]["storage_size"] == 262144
    assert data["extends"] == ["hcalcs"]


def test_cli_list_has_one_line_per_profile():
    result = CliRunner().invoke(cli, ["profiles", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == [p.name for p in load_all()]
    assert any(line.split()[:3] == ["ppmid-opt1", "PPMID", "non-critical"] for line in lines)


def test_cli_broken_profile_is_one_line_exit_2(scratch):
    directory = scratch("bad", 'extends = "base"\nsupplier_slots = 7\n')
    result = CliRunner().invoke(cli, ["profiles", "show", "bad", "--dir", str(directory)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line]
    assert lines == ["error: profiles/bad.toml: key supplier_slots: must be one of 0, 1, 2, got 7"]


# --- hostile files: one line naming the file, never a traceback --------------------------------

HOSTILE = [
    # (what to put at profiles/bad.toml, words in the message)
    (b'description = "caf\xe9"\n', "not UTF-8 text (byte 0xE9 at offset 18)"),
    (b"", "key description: missing"),
    (b"description = 5\n", "key description: must be a string, got 5"),
    (b'extends = "base"\nsupplier_slots = 1.0\n', "must be an integer, got 1.0"),
    (b'extends = "base"\nzigbee = 5\n', "key zigbee: must be a table, got 5"),
    (b'extends = "base"\n[zigbee]\nendpoints = [5]\n', "key zigbee.endpoints[0]: must be a table"),
    (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "invalid TOML: "),
    (b"\x00", "invalid TOML: "),
    (b'extends = "base"\n"a\\nb\\u2028c" = 1\n', 'key "a\\u000Ab\\u2028c": unknown key'),
    (b'extends = "' + b"x" * 5000 + b'"\n', "key extends: no profile named"),
]


@pytest.mark.parametrize(("content", "words"), HOSTILE)
def test_hostile_profile_is_one_line_exit_2(scratch, content, words):
    directory = scratch("bad", "")
    (directory / "bad.toml").write_bytes(content)
    with pytest.raises(ProfileError) as info:
        load_profile("bad", directory)
    assert str(info.value).startswith("profiles/bad.toml: ") and words in str(info.value)
    result = CliRunner().invoke(cli, ["profiles", "show", "bad", "--dir", str(directory)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit | None)
    assert result.output.splitlines() == [f"error: {info.value}"]


def test_profile_that_is_a_directory(scratch):
    directory = scratch("x", BASE)
    (directory / "bad.toml").mkdir()
    with pytest.raises(ProfileError, match=r"^profiles/bad\.toml: is a directory, not a profile"):
        load_profile("bad", directory)


def test_unreadable_profile(scratch, monkeypatch):
    directory = scratch("x", BASE)

    def refuse(path, *_args, **_kwargs):  # what opening a file one may not read does
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("emulator.files.os.open", refuse)
    with pytest.raises(ProfileError, match=r"^profiles/x\.toml: cannot read: Permission denied$"):
        load_profile("x", directory)


def test_errors_show_hex_keys_in_hex(scratch):
    directory = scratch("bad", 'extends = "base"\n[zigbee]\nfirmware_version = 0x100000000\n')
    with pytest.raises(ProfileError) as info:
        load_profile("bad", directory)
    assert str(info.value).endswith("must be in 0x00000000..0xFFFFFFFF, got 0x100000000")


def test_one_error_type_for_every_config_file():
    from emulator.errors import ConfigError, HanemuError, HomeFileError

    assert ProfileError is ConfigError is HomeFileError
    assert issubclass(ConfigError, HanemuError)
    assert str(ConfigError("a.toml", None, "bad")) == "a.toml: bad"
    assert str(ConfigError("a.toml", "x.y", "bad")) == "a.toml: key x.y: bad"


# --- modes are enums whose values are the TOML spellings ---------------------------------------


def test_profile_modes_are_enum_members_spelled_as_in_the_file():
    from emulator.gbcs.activation import ACTIVATION_CLASSES, ActivationClass
    from emulator.profiles import ROUTES, DeviceType, NodeType, Provenance, Route

    p = load_profile("ihd-opt1")
    assert p.device_type is DeviceType.IHD and p.activation is ActivationClass.CRITICAL
    assert p.provenance is Provenance.SUPPLIER and p.zigbee.node_type is NodeType.END_DEVICE
    assert p.routes == (Route.DCC, Route.LOCAL) and all(type(r) is Route for r in p.routes)
    assert ROUTES == ("dcc", "wifi", "local") and all(type(r) is str for r in ROUTES)
    assert tuple(c.value for c in ActivationClass) == ACTIVATION_CLASSES
    data = json.loads(json.dumps(p.to_dict()))
    assert data["activation"] == "critical" and data["routes"] == ["dcc", "local"]
