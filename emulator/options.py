"""The options paper's assessment: every option home run, and what each device's update came to.

`profiles/homes/options/*.toml` are homes that each show one option of the paper (`[home]
option = "IHD 2"`). `assess(paths, inventory=...)` loads them all (a home that does not load
stops the assessment before anything runs), runs each through `emulator.home` in virtual time,
and turns every device's report into a `Row`: whether the update worked end to end (the
device's outcome) and whether the run went as the home expects, the security findings, consent,
site visits and engineer minutes, DCC messages, time to update, and whether the device needs a
Technical Specification change (its profile's declared `deviations`). `Assessment` renders the
rows as Markdown, JSON and one self-contained HTML page (inline CSS, nothing fetched), each the
same for the same checkout: no wall time, no machine paths.

This module owns running the option homes and the wording of the assessment. It never decides
what a device, the hub or the head-end does (the scenario engine does), never writes a file
(the CLI writes what it renders through `emulator.outputs`) and never reads wall time.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.device.report import DeviceReport
from emulator.errors import HanemuError
from emulator.findings import Finding
from emulator.home import HOMES_DIR, HomeConfig, load_home, run_home
from emulator.interrupt import Interruption
from emulator.inventory import Inventory
from emulator.ota.client import OutcomeKind
from emulator.profiles import DeviceType

OPTIONS_DIR = HOMES_DIR / "options"
"""Where the shipped option homes live."""
TITLE = "Firmware updates on other HAN devices: the options, run"


class OptionsError(HanemuError):
    """The option homes cannot be assessed as asked (none found, a directory that is none)."""


def option_homes(directory: Path) -> list[Path]:
    """The home files (`*.toml`) in `directory`, sorted by name."""
    if not directory.is_dir():
        what = "no such directory" if not directory.exists() else "not a directory"
        raise OptionsError(f"{_shown(directory)}: {what}")
    homes = sorted(p for p in directory.glob("*.toml") if p.is_file())
    if not homes:
        raise OptionsError(f"{_shown(directory)}: no option homes (*.toml) in it")
    return homes


@dataclass(frozen=True, slots=True)
class Row:
    """One device of one option home: what its update came to."""

    option: str
    home: str
    """The home's name."""
    home_file: str
    """The home file's name (in the homes directory)."""
    device: str
    device_type: str
    profile: str
    route: str
    outcome: str
    reason: str | None
    as_expected: bool
    """Whether the device reached what its home expects of it (outcome and findings)."""
    home_as_expected: bool
    """Whether every device of its home did."""
    findings: tuple[Finding, ...]
    consent: str | None
    site_visits: int
    engineer_minutes: int
    dcc_messages: int
    time_to_update_s: float | None
    deviations: tuple[str, ...]
    """Where the device's profile departs from the Technical Specifications (none: no change
    needed)."""

    @property
    def works(self) -> bool:
        """The new firmware runs on the device at the end: the option worked end to end."""
        return self.outcome == OutcomeKind.ACTIVATED.value

    @property
    def ts_change(self) -> bool:
        return bool(self.deviations)

    def to_json(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "home": self.home,
            "home_file": self.home_file,
            "device": self.device,
            "device_type": self.device_type,
            "profile": self.profile,
            "route": self.route,
            "works_end_to_end": self.works,
            "outcome": self.outcome,
            "reason": self.reason,
            "as_expected": self.as_expected,
            "home_as_expected": self.home_as_expected,
            "findings": [f.to_json() for f in self.findings],
            "consent": self.consent,
            "site_visits": self.site_visits,
            "engineer_minutes": self.engineer_minutes,
            "dcc_messages": self.dcc_messages,
            "time_to_update_s": self.time_to_update_s,
            "ts_change": self.ts_change,
            "deviations": list(self.deviations),
        }


@dataclass(frozen=True, slots=True)
class HomeRun:
    """One option home and how its run went."""

    option: str
    home: str
    home_file: str
    description: str
    seed: int
    radio: str
    ok: bool
    virtual_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "home": self.home,
            "home_file": self.home_file,
            "description": self.description,
            "seed": self.seed,
            "radio": self.radio,
            "as_expected": self.ok,
            "virtual_seconds": self.virtual_seconds,
        }


@dataclass(slots=True)
class Assessment:
    homes: list[HomeRun] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every scenario ran as its home expects."""
        return all(h.ok for h in self.homes)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": TITLE,
            "as_expected": self.ok,
            "homes": [h.to_json() for h in self.homes],
            "rows": [r.to_json() for r in self.rows],
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def markdown(self) -> str:
        return _markdown(self)

    def html(self) -> str:
        return _html(self)


Progress = Callable[[HomeRun], None]


def assess(
    paths: Sequence[Path],
    *,
    inventory: Inventory | None = None,
    interruption: Interruption | None = None,
    progress: Progress | None = None,
) -> Assessment:
    """Load every home of `paths` (any that does not load raises its `ConfigError` before a run
    starts), run each in virtual time, and assess every device. With an `interruption` that
    caught a signal, the homes after the one it ended are not run (the caller decides what the
    partial assessment is worth); `progress` hears of each home as it ends."""
    configs = [(path, load_home(path)) for path in paths]
    runs = []
    for path, config in configs:
        if interruption is not None and interruption.signum is not None:
            break
        report = run_home(config, interruption=interruption, inventory=inventory)
        home = HomeRun(
            option=_label(config),
            home=config.name,
            home_file=path.name,
            description=config.description,
            seed=report.seed,
            radio=report.radio,
            ok=report.ok and report.interrupted is None,
            virtual_seconds=report.virtual_seconds,
        )
        rows = [_row(config, home, d) for d in report.devices]
        runs.append((home, rows))
        if progress is not None:
            progress(home)
    runs.sort(key=lambda run: _order(run[0]))
    assessment = Assessment()
    for home, rows in runs:
        assessment.homes.append(home)
        assessment.rows.extend(rows)
    return assessment


def _label(config: HomeConfig) -> str:
    return config.option or config.name


def _row(config: HomeConfig, home: HomeRun, d: DeviceReport) -> Row:
    device = next(x for x in config.devices if x.name == d.name)
    profile = device.profile
    return Row(
        option=home.option,
        home=home.home,
        home_file=home.home_file,
        device=d.name,
        device_type=str(profile.device_type),
        profile=profile.name,
        route=str(d.route),
        outcome=OutcomeKind(d.outcome).value,
        reason=d.reason,
        as_expected=d.as_expected,
        home_as_expected=home.ok,
        findings=tuple(d.findings),
        consent=d.consent,
        site_visits=d.site_visits,
        engineer_minutes=d.engineer_minutes,
        dcc_messages=d.dcc_messages,
        time_to_update_s=d.time_to_update_s,
        deviations=tuple(profile.deviations),
    )


_TYPE_ORDER = {str(t): i for i, t in enumerate(DeviceType)}


def _order(home: HomeRun) -> tuple[Any, ...]:
    """The paper's order: IHD, PPMID, HCALCS, CAD, then option number, then file name."""
    words = home.option.split()
    kind = _TYPE_ORDER.get(words[0].upper() if words else "", len(_TYPE_ORDER))
    natural = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.lower())
        for part in re.findall(r"\d+|\D+", home.option)
    )
    return (kind, natural, home.home_file)


# -- wording --------------------------------------------------------------------------------------

COLUMNS = (
    ("option", "Option"),
    ("device", "Device"),
    ("route", "Route"),
    ("works", "End to end"),
    ("expected", "As expected"),
    ("findings", "Security findings"),
    ("consent", "Consent"),
    ("visits", "Site visits"),
    ("minutes", "Engineer minutes"),
    ("dcc", "DCC messages"),
    ("time", "Time to update"),
    ("ts", "Technical Specification change"),
)
"""The assessment table's columns, the same in Markdown and HTML (docs/options.md)."""


def duration(seconds: float | None) -> str:
    """A time to update as people read it."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _cells(row: Row) -> dict[str, list[str]]:
    """Each column's text for a row, as lines (a cell may hold several findings)."""
    works = "yes" if row.works else "no"
    outcome = row.outcome + (f": {row.reason}" if row.reason else "")
    expected = "yes" if row.as_expected else "no"
    if not row.home_as_expected and row.as_expected:
        expected += " (not every device of the home)"
    return {
        "option": [row.option],
        "device": [f"{row.device_type} {row.device}", f"profile {row.profile}"],
        "route": [row.route],
        "works": [works, outcome],
        "expected": [expected],
        "findings": [f"{f.severity} {f.kind}: {f.sentence}" for f in row.findings] or ["none"],
        "consent": [row.consent or "not asked"],
        "visits": [str(row.site_visits)],
        "minutes": [str(row.engineer_minutes)],
        "dcc": [str(row.dcc_messages)],
        "time": [duration(row.time_to_update_s)],
        "ts": ["yes", *row.deviations] if row.ts_change else ["no"],
    }


def _intro(a: Assessment) -> str:
    verdict = "yes" if a.ok else "no"
    return (
        f"Produced by `hanemu options assess` from {len(a.homes)} option home(s), each run in "
        f"virtual time. Every scenario ran as expected: {verdict}."
    )


def _home_line(h: HomeRun) -> str:
    """One home as the assessment's list shows it: what it shows, its file, how it ran."""
    verdict = "as expected" if h.ok else "NOT as expected"
    said = " ".join(h.description.split()).rstrip(".")
    said = said[:1].upper() + said[1:]
    return (
        (f"{said}. " if said else "")
        + f"{h.home_file}: home {h.home}, seed {h.seed}, {h.radio} air, "
        f"{h.virtual_seconds:.0f} s of network time; {verdict}."
    )


def _md_cell(lines: list[str]) -> str:
    text = "<br>".join(" ".join(line.split()) for line in lines)
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _markdown(a: Assessment) -> str:
    out = [f"# {TITLE}", "", _intro(a), ""]
    out.append("| " + " | ".join(title for _, title in COLUMNS) + " |")
    out.append("|" + "|".join("---" for _ in COLUMNS) + "|")
    for row in a.rows:
        cells = _cells(row)
        out.append("| " + " | ".join(_md_cell(cells[key]) for key, _ in COLUMNS) + " |")
    out += ["", "## Homes", ""]
    for h in a.homes:
        out.append(f"- **{_md_cell([h.option])}**: {_md_cell([_home_line(h)])}")
    return "\n".join(out) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1a1a1a; }
h1 { font-size: 1.4em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }
th { background: #eee; }
tr.fail { background: #fde8e8; }
.yes { color: #0a6b2a; font-weight: bold; }
.no { color: #a11; font-weight: bold; }
.sev-high { color: #a11; font-weight: bold; }
.sev-medium { color: #a65f00; font-weight: bold; }
.sev-low, .sev-info { color: #555; }
td div + div { margin-top: 0.3em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_cell(key: str, row: Row, lines: list[str]) -> str:
    parts = []
    for i, line in enumerate(lines):
        css = ""
        if i == 0 and key in ("works", "expected", "ts"):
            css = f' class="{"yes" if line.startswith("yes") else "no"}"'
        if key == "findings" and row.findings:
            css = f' class="sev-{_e(row.findings[i].severity)}"'
        parts.append(f"<div{css}>{_e(line)}</div>")
    return f'<td data-column="{key}">{"".join(parts)}</td>'


def _html(a: Assessment) -> str:
    head = "".join(f'<th scope="col">{_e(title)}</th>' for _, title in COLUMNS)
    body = []
    for row in a.rows:
        cells = _cells(row)
        attrs = (
            f'data-device="{_e(row.device_type)}" data-option="{_e(row.option)}" '
            f'data-home="{_e(row.home)}" data-name="{_e(row.device)}" '
            f'data-works="{"yes" if row.works else "no"}" '
            f'data-as-expected="{"yes" if row.as_expected else "no"}"'
        )
        css = "" if row.as_expected else ' class="fail"'
        tds = "".join(_html_cell(key, row, cells[key]) for key, _ in COLUMNS)
        body.append(f"<tr {attrs}{css}>{tds}</tr>")
    homes = [
        f'<li data-option="{_e(h.option)}" data-as-expected="{"yes" if h.ok else "no"}">'
        f"<strong>{_e(h.option)}</strong>: {_e(_home_line(h))}</li>"
        for h in a.homes
    ]
    intro = _e(_intro(a)).replace("`hanemu options assess`", "<code>hanemu options assess</code>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{_e(TITLE)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{_e(TITLE)}</h1>\n<p>{intro}</p>\n"
        f'<table id="assessment">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(body)
        + "\n</tbody>\n</table>\n<h2>Homes</h2>\n<ul>\n"
        + "\n".join(homes)
        + "\n</ul>\n</body>\n</html>\n"
    )


def _shown(path: Path) -> str:
    text = str(path)
    return text if text.isprintable() else repr(text)
