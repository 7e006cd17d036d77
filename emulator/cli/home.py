"""`hanemu home ...`: run an emulated home (a Comms Hub and its HAN devices) from a home file.

This module owns turning options into a run of `emulator.home` and its report into a progress
display, a summary table and JSON. Output paths are checked before the run; the report is
written whole (`emulator.outputs`); SIGINT or SIGTERM during the run ends it cleanly, writes
what it has, and exits 130 or 143. It never holds protocol logic or scheduling.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from emulator.cli import console as _stdout_console
from emulator.cli.params import Int, RadioName, ZepAddress
from emulator.errors import Interrupted
from emulator.home import DEFAULT_HOME, HomeReport, check_outputs, load_home, run_home
from emulator.interrupt import Interruption
from emulator.inventory import Inventory
from emulator.outputs import write_atomic
from emulator.radio.zep import ZepSink


@click.group()
def home() -> None:
    """Emulated homes: a Comms Hub and HAN devices on one Zigbee network."""


def _version(value: int) -> str:
    return f"{value:08X}"


def _table(report: HomeReport) -> Table:
    """The summary; names, reasons and outcomes come from files, so every cell is a `Text`
    (shown as it is, never read as markup)."""
    table = Table(title=Text(f"home {report.name} (seed {report.seed}, server {report.server})"))
    for column in ("device", "profile", "route", "version", "outcome", "reason", "time"):
        table.add_column(
            column, no_wrap=column != "reason", ratio=1 if column == "reason" else None
        )
    for d in report.devices:
        version = _version(d.start_file_version)
        if d.final_file_version != d.start_file_version:
            version += f"→{_version(d.final_file_version)}"
        outcome = str(d.outcome)
        if d.expect is not None and d.outcome != d.expect:
            outcome += f" (not {d.expect})"
        if not d.findings_as_expected:
            outcome += f" (findings not {', '.join(d.expect_findings or ()) or 'none'})"
        time = "" if d.download_seconds is None else f"{d.download_seconds:.1f} s"
        style = None if d.as_expected else "red"
        reason = "\n".join(
            [d.reason or "", *(f"{f.severity} {f.kind}: {f.sentence}" for f in d.findings)]
        ).strip()
        cells = (d.name, d.profile, d.route, version, outcome, reason, time)
        table.add_row(*map(Text, cells), style=style)
    for r in report.real_devices or ():  # seen on a dongle's network: no outcome is judged
        ends = r["upgrade_end"]
        cells = (
            r["name"],
            "(real)",
            "dongle",
            (r["file_version"] or "?").removeprefix("0x"),
            f"upgrade end {ends[-1]['status']}" if ends else "no download",
            f"{r['queries']} queries, {r['blocks_served']} blocks ({r['bytes_served']} B) served",
            "",
        )
        table.add_row(*map(Text, cells))
    table.caption = f"{report.virtual_seconds:.0f} s of network time, {report.frames} frames"
    return table


@home.command("run")
@click.argument("home_file", required=False, type=click.Path(path_type=Path), default=None)
@click.option(
    "--seed", type=Int(0), default=None, help="Seed for every random choice (default: the file's)."
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON report here.",
)
@click.option(
    "--pcap",
    "pcap_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the network traffic here (IEEE 802.15.4 pcap for Wireshark).",
)
@click.option(
    "--inventory",
    "inventory_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Add a row per firmware switch (device, type, route, supplier, the version it runs) "
    "to this SQLite firmware inventory, created when absent (see 'hanemu inventory show').",
)
@click.option(
    "--zep",
    type=ZepAddress(),
    default=None,
    help="Stream every frame live as ZEP v2 over UDP to HOST:PORT (Wireshark decodes port "
    "17754), e.g. 127.0.0.1:17754.",
)
@click.option(
    "--radio",
    type=RadioName(),
    default=None,
    help="The air (default: the file's radio): zigpy; direct (no Zigbee stack, fast); ncp (the "
    "Comms Hub on stock bellows over TCP to hanemu's emulated NCP); ezsp:/dev/SERIAL or "
    "ezsp:socket://HOST:PORT (the hub on bellows with a real dongle, for real devices beside "
    "the emulated ones; wall-clock time, for the home's duration).",
)
@click.option("--realtime", is_flag=True, help="Run in wall-clock time instead of virtual time.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def run(
    ctx: click.Context,
    home_file: Path | None,
    seed: int | None,
    report_path: Path | None,
    pcap_path: Path | None,
    inventory_path: Path | None,
    zep: tuple[str, int] | None,
    radio: str | None,
    realtime: bool,
    as_json: bool,
) -> None:
    """Run a home file (default: profiles/homes/default.toml) to its end.

    Exit status 0 when every device reached the outcome its `expect` names (and none without
    `expect` failed), 1 otherwise, 2 for bad input, 130 (SIGINT) or 143 (SIGTERM) when
    interrupted: the report then says "interrupted": true, the pcap holds the frames so far.
    With --zep, one line on stderr says how many frames were streamed."""
    home_path = home_file or DEFAULT_HOME
    config = load_home(home_path)
    check_outputs(  # before the run
        config, home_path, report=report_path, pcap=pcap_path, inventory=inventory_path
    )
    with Interruption() as interruption:
        sinks = [] if zep is None else [ZepSink(*zep)]
        inventory = None if inventory_path is None else Inventory.open(inventory_path)
        try:
            report = _run(
                config, seed, radio, pcap_path, realtime, as_json, interruption, sinks, inventory
            )
        finally:
            for sink in sinks:
                sink.close()
            if inventory is not None:
                inventory.close()
        for sink in sinks:
            click.echo(sink.summary(), err=True)
        data = report.to_json()
        if report_path is not None:
            write_atomic(report_path, (json.dumps(data, indent=2) + "\n").encode())
        if as_json:
            click.echo(json.dumps(data, indent=2))
        else:
            out = _stdout_console()
            if not out.is_terminal:
                out = _stdout_console(width=140)
            out.print(_table(report))
    if interruption.signum is not None:
        raise Interrupted(interruption.signum)
    ctx.exit(0 if report.ok else 1)


def _run(
    config, seed, radio, pcap, realtime, as_json, interruption, captures, inventory
) -> HomeReport:
    """The run, with a progress bar per device on a terminal."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description:<12}", markup=False),  # device names shown as written
        BarColumn(),
        DownloadColumn(),
        console=console,
        transient=True,
        disable=as_json or not console.is_terminal,
    ) as bars:
        tasks = {d.name: bars.add_task(d.name, total=None) for d in config.devices}

        def progress(name: str, done: int, total: int) -> None:
            bars.update(tasks[name], completed=done, total=total or None)

        def announce(url: str) -> None:  # in real time, so that someone can trigger a device
            line = f"Wi-Fi update server: {url} (hanemu home trigger {url} DEVICE)"
            console.print(line, markup=False, highlight=False, soft_wrap=True)

        return run_home(
            config,
            seed=seed,
            radio=radio,
            pcap=pcap,
            realtime=realtime,
            progress=progress,
            interruption=interruption,
            captures=captures,
            inventory=inventory,
            on_wifi_server=announce if realtime else None,
        )


@home.command("trigger")
@click.argument("url")
@click.argument("device")
def trigger(url: str, device: str) -> None:
    """Make a Wi-Fi DEVICE of a running home check its update server now.

    URL is the update server's, as `hanemu home run --realtime` prints it for a home with Wi-Fi
    devices (http://127.0.0.1:PORT). This is the reactive trigger of the options paper's Wi-Fi
    route (POST URL/devices/DEVICE/check). Exit status 0 when the device checks, 2 for a bad URL,
    a server that cannot be reached, or a device it does not know or that is off."""
    from emulator.wifi.trigger import post_trigger

    click.echo(f"{device}: {post_trigger(url, device)}")
