"""What a fleet run came to: a summary per device type and option, an HTML page and PNG plots.

`summarize(data)` groups the devices of a results database (`emulator.fleet.store.read_fleet`)
by device type and option (profile), in the paper's order (IHD, PPMID, HCALCS, CAD): devices,
how many run the new firmware (success rate) and how many came out as their option is expected
to, time to update (median, 95th percentile, the last), DCC messages, site visits and engineer
minutes, security findings by severity, retries; and the fleet's totals (when its last device
was updated, in fleet time). `render(data)` gives every file of the report as bytes: one page
(`fleet.html`: inline CSS, its Content-Security-Policy lets it load its own PNGs and nothing
else) and the plots (matplotlib, Agg backend): success rate, the distribution of time to update,
DCC messages, site visits, security findings, and devices updated over fleet time.

This module owns the wording and the plots; it never runs a home, never writes a file (the CLI
writes what it renders through `emulator.outputs`) and never reads wall time.
"""

from __future__ import annotations

import html
import io
import json
import statistics
from dataclasses import dataclass, field
from typing import Any

from emulator.findings import Severity
from emulator.fleet.store import FleetData
from emulator.options import duration
from emulator.profiles import DeviceType

TITLE = "Firmware updates across a fleet of homes"
PAGE = "fleet.html"
PLOTS = {
    "success-rate.png": "Success rate: devices running the new firmware, and devices as expected",
    "time-to-update.png": "Time to update: from the campaign reaching the device's route to the "
    "new firmware running (devices updated)",
    "dcc-messages.png": "DCC messages per device (GBCS commands, responses and alerts)",
    "site-visits.png": "Site visits, with the engineer hours they cost",
    "findings.png": "Security findings, by severity",
    "fleet-progress.png": "Devices running the new firmware over fleet time (waves included)",
}
"""Every plot of the report, with its caption."""
SEVERITIES = tuple(Severity)
_COLOURS = {"info": "#8c8c8c", "low": "#4c78a8", "medium": "#f28e2b", "high": "#c1272d"}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass(slots=True)
class Group:
    """The devices of one device type and option."""

    device_type: str
    profile: str
    route: str
    devices: int = 0
    activated: int = 0
    as_expected: int = 0
    expected: dict[str, int] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    updated_at: list[float] = field(default_factory=list)
    dcc: list[int] = field(default_factory=list)
    site_visits: int = 0
    engineer_minutes: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    """Severity -> findings of that severity."""
    finding_kinds: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    """Devices whose home was run again."""

    @property
    def label(self) -> str:
        return f"{self.device_type} {self.profile}"

    @property
    def success_rate(self) -> float:
        return self.activated / self.devices if self.devices else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "device_type": self.device_type,
            "profile": self.profile,
            "route": self.route,
            "devices": self.devices,
            "activated": self.activated,
            "success_rate": round(self.success_rate, 6),
            "as_expected": self.as_expected,
            "expected": dict(sorted(self.expected.items())),
            "time_to_update_s": {
                "median": None if not self.times else statistics.median(self.times),
                "p95": _percentile(self.times, 0.95),
                "max": max(self.times, default=None),
            },
            "dcc_messages": sum(self.dcc),
            "site_visits": self.site_visits,
            "engineer_minutes": self.engineer_minutes,
            "findings": {s.value: self.findings.get(s.value, 0) for s in SEVERITIES},
            "finding_kinds": dict(sorted(self.finding_kinds.items())),
            "devices_retried": self.retried,
        }


@dataclass(slots=True)
class Summary:
    parameters: dict[str, Any]
    homes: int
    homes_as_expected: int
    retries: int
    """Runs of homes beyond their first."""
    groups: list[Group]
    activations: int

    @property
    def devices(self) -> int:
        return sum(g.devices for g in self.groups)

    @property
    def ok(self) -> bool:
        """Every device came out as its option is expected to."""
        return all(g.as_expected == g.devices for g in self.groups)

    @property
    def last_update_s(self) -> float | None:
        return max((t for g in self.groups for t in g.updated_at), default=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": TITLE,
            "campaign": self.parameters,
            "homes": self.homes,
            "homes_as_expected": self.homes_as_expected,
            "devices": self.devices,
            "as_expected": self.ok,
            "retries": self.retries,
            "last_update_s": self.last_update_s,
            "activations": self.activations,
            "groups": [g.to_json() for g in self.groups],
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"


_TYPE_ORDER = {str(t): i for i, t in enumerate(DeviceType)}


def summarize(data: FleetData) -> Summary:
    groups: dict[tuple[str, str], Group] = {}
    for d in data.devices:
        key = (d["device_type"], d["profile"])
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(d["device_type"], d["profile"], d["route"])
        g.devices += 1
        g.activated += d["outcome"] == "activated"
        g.as_expected += d["as_expected"]
        g.expected[d["expected"]] = g.expected.get(d["expected"], 0) + 1
        if d["time_to_update_s"] is not None:
            g.times.append(float(d["time_to_update_s"]))
        if d["updated_at_s"] is not None:
            g.updated_at.append(float(d["updated_at_s"]))
        g.dcc.append(d["dcc_messages"])
        g.site_visits += d["site_visits"]
        g.engineer_minutes += d["engineer_minutes"]
        for severity, kind in d["findings"]:
            g.findings[severity] = g.findings.get(severity, 0) + 1
            g.finding_kinds[kind] = g.finding_kinds.get(kind, 0) + 1
        g.retried += d["retries"] > 0
    ordered = sorted(groups.values(), key=lambda g: (_TYPE_ORDER.get(g.device_type, 99), g.profile))
    return Summary(
        parameters=data.parameters,
        homes=len(data.homes),
        homes_as_expected=sum(bool(h["ok"]) for h in data.homes),
        retries=sum(h["attempts"] - 1 for h in data.homes),
        groups=ordered,
        activations=data.activations,
    )


# -- plots ----------------------------------------------------------------------------------------


def _hours(seconds: list[float]) -> tuple[list[float], str]:
    """Values in the unit people read them in: minutes up to two hours, hours beyond."""
    if max(seconds, default=0) <= 2 * 3600:
        return [s / 60 for s in seconds], "minutes"
    return [s / 3600 for s in seconds], "hours"


def _figure(groups: list[Group]) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(groups) + 2), 4.2), dpi=100)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return fig, ax


def _labels(ax: Any, groups: list[Group]) -> None:
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{g.device_type}\n{g.profile}\n({g.route})" for g in groups])


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    out = io.BytesIO()
    fig.tight_layout()
    fig.savefig(out, format="png", metadata={"Software": None})
    plt.close(fig)
    return out.getvalue()


def plots(summary: Summary) -> dict[str, bytes]:
    """Every plot of `PLOTS`, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    groups = summary.groups
    x = range(len(groups))
    out = {}

    fig, ax = _figure(groups)
    width = 0.38
    ax.bar([i - width / 2 for i in x], [100 * g.success_rate for g in groups], width,
           label="new firmware running", color="#2e7d32")  # fmt: skip
    ax.bar([i + width / 2 for i in x], [100 * g.as_expected / g.devices for g in groups], width,
           label="as expected", color="#90caf9")  # fmt: skip
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of devices")
    ax.legend(loc="lower right")
    _labels(ax, groups)
    out["success-rate.png"] = _png(fig)

    fig, ax = _figure(groups)
    values, unit = _hours([t for g in groups for t in g.times])
    start = 0
    series = []
    for g in groups:
        series.append(values[start : start + len(g.times)] or [float("nan")])
        start += len(g.times)
    if groups:
        ax.boxplot(series, positions=list(x), widths=0.5)
    ax.set_ylabel(f"time to update ({unit})")
    _labels(ax, groups)
    out["time-to-update.png"] = _png(fig)

    fig, ax = _figure(groups)
    if groups:
        ax.boxplot([g.dcc or [0] for g in groups], positions=list(x), widths=0.5)
    for i, g in enumerate(groups):
        ax.annotate(f"{sum(g.dcc)} in all", (i, max(g.dcc, default=0)), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=8)  # fmt: skip
    ax.set_ylabel("DCC messages per device")
    ax.set_ylim(bottom=0)
    _labels(ax, groups)
    out["dcc-messages.png"] = _png(fig)

    fig, ax = _figure(groups)
    ax.bar(list(x), [g.site_visits for g in groups], 0.5, color="#8d6e63")
    for i, g in enumerate(groups):
        ax.annotate(f"{g.engineer_minutes / 60:g} engineer h", (i, g.site_visits),
                    textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)  # fmt: skip
    ax.set_ylabel("site visits")
    ax.set_ylim(0, max([1, *(g.site_visits for g in groups)]) * 1.2)
    _labels(ax, groups)
    out["site-visits.png"] = _png(fig)

    fig, ax = _figure(groups)
    bottom = [0] * len(groups)
    for severity in SEVERITIES:
        counts = [g.findings.get(severity.value, 0) for g in groups]
        ax.bar(list(x), counts, 0.5, bottom=bottom, label=severity.value,
               color=_COLOURS[severity.value])  # fmt: skip
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_ylabel("security findings")
    ax.set_ylim(0, max([1, *bottom]) * 1.15)
    ax.legend(title="severity", loc="upper right")
    _labels(ax, groups)
    out["findings.png"] = _png(fig)

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=100)
    ax.grid(alpha=0.3)
    everything, unit = _hours([t for g in groups for t in g.updated_at])
    start = 0
    for g in groups:
        times = sorted(everything[start : start + len(g.updated_at)])
        start += len(g.updated_at)
        if times:
            ax.step([0, *times], [0, *range(1, len(times) + 1)], where="post", label=g.label)
    ax.set_xlabel(f"fleet time ({unit})")
    ax.set_ylabel("devices running the new firmware")
    if any(g.updated_at for g in groups):
        ax.legend(loc="lower right")
    out["fleet-progress.png"] = _png(fig)
    return out


# -- the page -------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1a1a1a; max-width: 80em; }
h1 { font-size: 1.4em; }
table { border-collapse: collapse; font-size: 0.9em; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }
th { background: #eee; }
td.n { text-align: right; }
tr.fail { background: #fde8e8; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
"""
COLUMNS = (
    "Device type",
    "Option (profile)",
    "Route",
    "Devices",
    "Success rate",
    "As expected",
    "Time to update (median / p95 / last)",
    "DCC messages",
    "Site visits",
    "Engineer hours",
    "Security findings",
    "Devices retried",
)


NUMBER = ' class="n"'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def findings_text(g: Group) -> str:
    said = [f"{n} {s}" for s in SEVERITIES if (n := g.findings.get(s.value, 0))]
    if not said:
        return "none"
    kinds = ", ".join(f"{k} ({n})" for k, n in sorted(g.finding_kinds.items()))
    return f"{', '.join(said)}: {kinds}"


def cells(g: Group) -> list[tuple[str, bool]]:
    times = g.to_json()["time_to_update_s"]
    return [
        (g.device_type, False),
        (g.profile, False),
        (g.route, False),
        (str(g.devices), True),
        (f"{100 * g.success_rate:.1f}% ({g.activated})", True),
        (f"{g.as_expected} of {g.devices}", True),
        (" / ".join(duration(times[k]) for k in ("median", "p95", "max")), False),
        (str(sum(g.dcc)), True),
        (str(g.site_visits), True),
        (f"{g.engineer_minutes / 60:g}", True),
        (findings_text(g), False),
        (str(g.retried), True),
    ]


def _parameters(p: dict[str, Any]) -> list[tuple[str, str]]:
    mix = ", ".join(f"{k} {v:g}" for k, v in (p.get("mix") or {}).items())
    options = ", ".join(
        f"{t}: {name} ({(p.get('routes') or {}).get(t, '?')})"
        for t, name in (p.get("options") or {}).items()
    )
    return [
        ("campaign", f"{p.get('name')} ({p.get('source')})"),
        ("description", str(p.get("description") or "")),
        ("homes, seed", f"{p.get('homes')}, seed {p.get('seed')}"),
        ("mix", mix),
        ("options", options),
        ("image", f"{p.get('image_size')} octets, supplier {p.get('supplier')}"),
        ("waves", f"{p.get('homes_per_wave')} homes every {p.get('wave_spacing_s')} s"),
        ("retries", str(p.get("retries"))),
        (
            "air, faults",
            f"{p.get('radio')}; drop {p.get('drop_rate')}, duplicate "
            f"{p.get('duplicate_rate')}, corrupt {p.get('corrupt_rate')}",
        ),
    ]


def page(summary: Summary) -> str:
    """The report's HTML page (it names the PNGs of `PLOTS`, beside it)."""
    verdict = "yes" if summary.ok else "no"
    last = summary.last_update_s
    intro = (
        f"{summary.homes} home(s), {summary.devices} device(s), each home a scenario in "
        f"virtual time; {summary.homes_as_expected} home(s) as expected, {summary.retries} "
        f"run(s) again; the last device was updated {duration(last)} into the campaign "
        f"(fleet time); {summary.activations} activation(s) in the inventory. Every device as "
        f"its option is expected to: {verdict}."
    )
    params = "".join(
        f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>'
        for k, v in _parameters(summary.parameters)
    )
    head = "".join(f'<th scope="col">{_e(c)}</th>' for c in COLUMNS)
    rows = []
    for g in summary.groups:
        tds = "".join(f"<td{NUMBER if number else ''}>{_e(text)}</td>" for text, number in cells(g))
        css = "" if g.as_expected == g.devices else ' class="fail"'
        rows.append(
            f'<tr data-device="{_e(g.device_type)}" data-profile="{_e(g.profile)}"{css}>{tds}</tr>'
        )
    figures = "".join(
        f'<figure><img src="{name}" alt="{_e(caption)}" data-plot="{name}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>\n"
        for name, caption in PLOTS.items()
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src 'self'\">\n"
        f"<title>{_e(TITLE)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{_e(TITLE)}</h1>\n<p>{_e(intro)}</p>\n"
        f'<table id="campaign">\n<tbody>{params}</tbody>\n</table>\n'
        f'<table id="summary">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
        + figures
        + "</body>\n</html>\n"
    )


def render(data: FleetData) -> dict[str, bytes]:
    """Every file of the report: the page and its plots."""
    summary = summarize(data)
    files = {PAGE: page(summary).encode()}
    files.update(plots(summary))
    return files
