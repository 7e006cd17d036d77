"""`hanemu options assess`: every option home run, and the assessment written as Markdown, JSON,
one self-contained HTML page (checked in headless Chromium) and the runs' inventory.

The option homes here are this test's own, in a temporary directory, with a profile of its own
that declares a deviation from the Technical Specifications (`HANEMU_PROFILES` points the runs
at a copy of the shipped profiles plus it); one test also assesses the shipped option homes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tools import installed

from emulator.inventory import read_inventory
from emulator.options import OPTIONS_DIR
from emulator.profiles import load_profile

ROOT = Path(__file__).resolve().parent.parent
DEVIATION = "the IHD takes its activation from a message GBCS does not define for it"

HOMES = {
    "ihd-1.toml": """
        [home]
        name = "ihd-1"
        option = "IHD 1"
        description = "DCC OTA, Critical CS06"
        radio = "direct"
        seed = 3

        [[device]]
        name = "ihd"
        profile = "ihd-opt1"
        expect = "activated"

        [[campaign]]
        build = { file_version = 0x0123ABCE, size = 4000 }
        """,
    "ihd-6.toml": """
        [home]
        name = "ihd-6"
        option = "IHD 6"
        radio = "direct"

        [[device]]
        name = "ihd"
        profile = "ihd-opt1"
        route = "local"
        expect = "activated"

        [[campaign]]
        build = { file_version = 0x0123ABCE, size = 4000 }
        """,
    "deviating.toml": """
        [home]
        name = "deviating"
        option = "IHD 9"
        radio = "direct"
        seed = 5

        [[device]]
        name = "ihd"
        profile = "ihd-deviating"
        expect = "activated"

        [[device]]
        name = "ppmid"
        profile = "ppmid-ch-managed"
        expect = "activated"

        [[campaign]]
        build = { file_version = 0x0123ABCE, size = 4000 }
        """,
    "cad.toml": """
        [home]
        name = "cad"
        option = "CAD"
        description = "a consumer's CAD on the DCC route"
        radio = "direct"

        [[device]]
        name = "cad"
        profile = "cad"
        route = "dcc"
        expect = "rejected"

        [[campaign]]
        build = { file_version = 0x0123ABCE, size = 4000 }
        """,
}
ROWS = {("IHD 1", "ihd"), ("IHD 6", "ihd"), ("IHD 9", "ihd"), ("IHD 9", "ppmid"), ("CAD", "cad")}
OUTPUTS = ("assessment.md", "assessment.json", "assessment.html", "inventory.sqlite")


def _profiles(directory: Path) -> Path:
    """The shipped profiles, plus one that declares a deviation."""
    directory.mkdir()
    for path in (ROOT / "profiles").glob("*.toml"):
        shutil.copy(path, directory / path.name)
    (directory / "ihd-deviating.toml").write_text(
        'extends = "ihd-opt1"\ndescription = "an IHD option 1 that departs from GBCS"\n'
        f'deviations = ["{DEVIATION}"]\n'
    )
    return directory


def _homes(directory: Path, homes: dict[str, str]) -> Path:
    directory.mkdir()
    for name, text in homes.items():
        (directory / name).write_text(textwrap.dedent(text))
    return directory


def hanemu(*args, profiles: Path | None = None, cwd: Path | None = None):
    env = dict(os.environ)
    if profiles is not None:
        env["HANEMU_PROFILES"] = str(profiles)
    return subprocess.run(
        [sys.executable, "-m", "emulator.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def assessed(tmp_path_factory):
    """`hanemu options assess --homes H --out O` over this test's option homes."""
    tmp = tmp_path_factory.mktemp("options")
    profiles = _profiles(tmp / "profiles")
    homes = _homes(tmp / "homes", HOMES)
    out = tmp / "out"
    result = hanemu("options", "assess", "--homes", homes, "--out", out, profiles=profiles)
    return result, out, homes, profiles


def _json(out: Path) -> dict:
    return json.loads((out / "assessment.json").read_text())


def test_assess_runs_every_home_and_writes_every_output(assessed):
    result, out, _homes_dir, _profiles_dir = assessed
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    assert result.stdout.startswith("4 option home(s), 5 device(s): every home as expected")
    data = _json(out)
    assert data["as_expected"] is True
    assert [h["option"] for h in data["homes"]] == ["IHD 1", "IHD 6", "IHD 9", "CAD"]  # paper order
    assert {(r["option"], r["device"]) for r in data["rows"]} == ROWS


def test_each_row_is_what_the_home_run_reports(assessed):
    """Every column comes from the device's report of the same run: `home run` of the same
    home (same seed, same profiles) reports the same outcome, findings, consent, visits,
    engineer minutes, DCC messages and time to update."""
    _result, out, homes, profiles = assessed
    rows = {(r["home_file"], r["device"]): r for r in _json(out)["rows"]}
    for name in HOMES:
        run = hanemu("home", "run", homes / name, "--json", profiles=profiles)
        report = json.loads(run.stdout)
        for d in report["devices"]:
            row = rows[(name, d["name"])]
            assert row["outcome"] == d["outcome"] and row["reason"] == d["reason"]
            assert row["works_end_to_end"] == (d["outcome"] == "activated")
            assert row["as_expected"] == d["as_expected"]
            assert row["home_as_expected"] == report["ok"]
            for key in ("findings", "consent", "site_visits", "engineer_minutes"):
                assert row[key] == d[key], key
            assert row["dcc_messages"] == d["dcc_messages"]
            assert row["time_to_update_s"] == d["time_to_update_s"]
            assert row["route"] == d["route"] and row["profile"] == d["profile"]
    by = {(r["option"], r["device"]): r for r in _json(out)["rows"]}
    assert by[("IHD 6", "ihd")]["site_visits"] == 1 and by[("IHD 6", "ihd")]["engineer_minutes"]
    assert by[("IHD 1", "ihd")]["dcc_messages"] > 0 and by[("IHD 1", "ihd")]["site_visits"] == 0
    cad = by[("CAD", "cad")]
    assert not cad["works_end_to_end"] and cad["as_expected"] and "out of scope" in cad["reason"]


def test_a_technical_specification_change_comes_from_the_profiles_deviations(assessed):
    """Yes and the sentences when the device's profile declares deviations, no otherwise."""
    _result, out, _homes_dir, profiles = assessed
    rows = _json(out)["rows"]
    by = {(r["option"], r["device"]): r for r in rows}
    assert by[("IHD 9", "ihd")]["ts_change"] is True
    assert by[("IHD 9", "ihd")]["deviations"] == [DEVIATION]
    for row in rows:
        declared = list(load_profile(row["profile"], profiles).deviations)
        assert row["deviations"] == declared and row["ts_change"] == bool(declared)
    markdown = (out / "assessment.md").read_text()
    assert f"| yes<br>{DEVIATION} |" in markdown
    page = (out / "assessment.html").read_text()
    assert f'<td data-column="ts"><div class="yes">yes</div><div>{DEVIATION}</div></td>' in page


def test_the_inventory_holds_each_activation_of_the_runs(assessed):
    _result, out, _homes_dir, _profiles_dir = assessed
    rows = read_inventory(out / "inventory.sqlite")
    activated = {(r["home"], r["device"]) for r in _json(out)["rows"] if r["works_end_to_end"]}
    assert sorted((r.home, r.device) for r in rows) == sorted(activated)
    assert all(r.file_version == 0x0123ABCE for r in rows)
    assert {r.route for r in rows} == {"dcc", "local"}


def test_markdown_has_one_table_row_per_device(assessed):
    _result, out, _homes_dir, _profiles_dir = assessed
    lines = (out / "assessment.md").read_text().splitlines()
    table = [line for line in lines if line.startswith("| ")]
    header = table[0]
    for title in ("Option", "End to end", "Security findings", "Consent", "Site visits",
                  "Engineer minutes", "DCC messages", "Time to update",
                  "Technical Specification change"):  # fmt: skip
        assert f" {title} |" in header
    assert len(table) == 1 + len(ROWS)
    assert all(line.count(" | ") == header.count(" | ") for line in table)


class _Rows(HTMLParser):
    """The data-* attributes of every table row, and anything that would fetch a resource."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.fetches: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "tr" and "data-device" in named:
            self.rows.append(named)
        if tag in ("script", "link", "img", "iframe", "object", "embed") or "src" in named:
            self.fetches.append(tag)
        if "href" in named:
            self.fetches.append(f"{tag} href")


def _rows_in(page: str) -> _Rows:
    parser = _Rows()
    parser.feed(page)
    return parser


def test_html_is_self_contained_and_names_every_row(assessed):
    _result, out, _homes_dir, _profiles_dir = assessed
    page = (out / "assessment.html").read_text()
    parsed = _rows_in(page)
    assert parsed.fetches == [] and "url(" not in page and "@import" not in page
    assert "<style>" in page
    assert {(r["data-option"], r["data-name"]) for r in parsed.rows} == ROWS
    assert {r["data-device"] for r in parsed.rows} == {"IHD", "PPMID", "CAD"}


def test_the_same_checkout_gives_the_same_assessment(assessed, tmp_path):
    _result, out, homes, profiles = assessed
    again = hanemu("options", "assess", "--homes", homes, "--out", tmp_path, profiles=profiles)
    assert again.returncode == 0, again.stderr
    for name in OUTPUTS:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_a_home_not_as_expected_exits_1_and_is_still_written(tmp_path):
    wrong = HOMES["ihd-6.toml"].replace('expect = "activated"', 'expect = "rejected"')
    homes = _homes(tmp_path / "homes", {"ihd-6.toml": wrong, "cad.toml": HOMES["cad.toml"]})
    out = tmp_path / "out"
    result = hanemu("options", "assess", "--homes", homes, "--out", out)
    assert result.returncode == 1, result.stderr
    assert "NOT every home as expected" in result.stdout
    data = _json(out)
    assert data["as_expected"] is False
    (ihd,) = [r for r in data["rows"] if r["device"] == "ihd"]
    assert ihd["works_end_to_end"] and not ihd["as_expected"]
    page = (out / "assessment.html").read_text()
    (row,) = [r for r in _rows_in(page).rows if r["data-name"] == "ihd"]
    assert (row["data-option"], row["data-as-expected"], row["class"]) == ("IHD 6", "no", "fail")


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    """No option homes, a home that does not load, an output directory that is a file: one
    line, exit 2, before anything runs or is written."""
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = _homes(tmp_path / "broken", {"a.toml": HOMES["ihd-1.toml"], "b.toml": "[home\n"})
    good = _homes(tmp_path / "good", {"a.toml": HOMES["ihd-1.toml"]})
    a_file = tmp_path / "file"
    a_file.write_text("x")
    out = tmp_path / "out"
    cases = [
        (("--homes", tmp_path / "missing", "--out", out), "no such directory"),
        (("--homes", empty, "--out", out), "no option homes (*.toml) in it"),
        (("--homes", broken, "--out", out), "b.toml"),
        (("--homes", good, "--out", a_file), "is a file"),
        (("--homes", a_file, "--out", out), "is a file"),
    ]
    for args, message in cases:
        result = hanemu("options", "assess", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert not out.exists()
    assert a_file.read_text() == "x"


def test_the_shipped_option_homes(tmp_path):
    """Whatever option homes are shipped run as they expect, and each is in the assessment."""
    shipped = sorted(p.name for p in OPTIONS_DIR.glob("*.toml"))
    if not shipped:
        pytest.skip(f"no option homes shipped yet in {OPTIONS_DIR.relative_to(ROOT)}")
    result = hanemu("options", "assess", "--out", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    data = _json(tmp_path)
    assert sorted(h["home_file"] for h in data["homes"]) == shipped
    assert len(data["rows"]) >= len(shipped)
    page = (tmp_path / "assessment.html").read_text()
    assert len(_rows_in(page).rows) == len(data["rows"])


# -- the page in a real browser ------------------------------------------------------------------


def test_chromium_shows_every_device_and_option_row(assessed, tmp_path):
    """Headless Chromium loads the page (nothing fetched, nothing blocked) and the DOM it
    builds holds one row per device and option of the assessment."""
    chromium = installed("chromium")
    _result, out, _homes_dir, _profiles_dir = assessed
    page = out / "assessment.html"
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         f"--user-data-dir={tmp_path / 'chromium'}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    parsed = _rows_in(dom)
    expected = {(r["device_type"], r["option"], r["home"], r["device"]) for r in _json(out)["rows"]}
    shown = {
        (r["data-device"], r["data-option"], r["data-home"], r["data-name"]) for r in parsed.rows
    }
    assert shown == expected and len(parsed.rows) == len(expected)
    assert 'id="assessment"' in dom and "Technical Specification change" in dom


def test_an_interrupted_assessment_writes_nothing(tmp_path):
    """SIGINT while a home runs: exit 130, one line, and no assessment (a part of one would
    read as the whole)."""
    devices = "\n".join(
        f'[[device]]\nname = "d{i}"\nprofile = "{p}"'
        for i, p in enumerate(("ihd-opt1", "ppmid-ch-managed", "hcalcs-opt1") * 2)
    )
    slow = (
        '[home]\nname = "slow"\noption = "IHD 1"\nradio = "zigpy"\n\n'
        f"{devices}\n\n"
        "[[campaign]]\nbuild = { file_version = 0x0123ABCE, size = 32768 }\n\n"
        "[faults]\ndrop_rate = 0.05\n"
    )
    homes = _homes(tmp_path / "homes", {f"slow-{i}.toml": slow for i in range(3)})
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "options", "assess", "--homes", str(homes),
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:  # every home loaded, outputs checked
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.splitlines()[-1] == "interrupted" and stdout == ""
    assert list(out.iterdir()) == []
