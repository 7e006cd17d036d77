"""The DCC route's scope and enablers, and the lead supplier of a shared device: refusals that
name their reason, run end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.home import HomeFileError, load_home, run_home

OPTIONS = Path(__file__).resolve().parents[2] / "profiles" / "homes" / "options"


def devices(name: str):
    report = run_home(load_home(OPTIONS / f"{name}.toml"))
    assert report.ok
    return {d.name: d for d in report.devices}


@pytest.mark.parametrize(
    ("home", "device", "words"),
    [
        ("cad-dcc", "cad", "out of scope: the DCC route is for supplier-provided or mandated"),
        ("ihd-consumer-dcc", "ihd", "out of scope: the DCC route is for supplier-provided"),
        ("ihd-opt1-without-opt3", "ihd", "no supplier slot (paper IHD option 3)"),
        ("ihd-opt1-without-opt4", "ihd", "no SE Tunneling (0x0704) client"),
    ],
)
def test_the_dcc_refuses_with_a_reason(home, device, words):
    d = devices(home)[device]
    assert d.outcome == "rejected"
    assert words in d.reason
    assert d.bytes == 0 and d.final_file_version == d.start_file_version
    assert d.dcc_messages == 0


def test_only_the_lead_supplier_activates_a_shared_ihd():
    d = devices("ihd-lead-supplier")
    assert d["ihd-lead"].outcome == "activated"
    other = d["ihd-other"]
    assert other.outcome == "rejected"
    assert "only the lead supplier supplier-a may activate this device" in other.reason
    assert other.final_file_version == other.start_file_version
    assert [c["verdict"] for c in other.gb["commands"]] == ["not-lead-supplier"]


def test_a_lead_supplier_needs_a_device_two_suppliers_can_share(tmp_path):
    home = tmp_path / "home.toml"
    home.write_text('[[device]]\nname = "h"\nprofile = "hcalcs-opt1"\nlead_supplier = "A"\n')
    with pytest.raises(HomeFileError, match=r"device\[0\]\.lead_supplier: a lead supplier governs"):
        load_home(home)


@pytest.mark.parametrize("name", ["ihd-opt6", "ppmid-opt4", "hcalcs-opt2"])
def test_a_site_visit_is_counted(name):
    (d,) = devices(name).values()
    assert d.outcome == "activated"
    assert d.site_visits == 1 and d.engineer_minutes == 90
    assert d.dcc_messages == 0
    assert d.time_to_update_s == 3600.0
