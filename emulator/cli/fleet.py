"""`hanemu fleet ...`: run a campaign over many homes, and report on a results database.

This module owns turning options into a run of `emulator.fleet` (a campaign file, overrides,
here or on Dask workers) and its results into a progress bar on stderr, a summary table and a
JSON summary; and `fleet report` into an HTML page and PNG plots written whole
(`emulator.outputs`). Every path is checked before the first home runs. SIGINT or SIGTERM stops
the run at the home it is in: the database holds every home finished before, whole, and the
command exits 130 or 143. It never holds protocol logic or decides an outcome.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from emulator.cli import console as _stdout_console
from emulator.cli.params import Int
from emulator.errors import Interrupted
from emulator.files import shown
from emulator.fleet.campaign import MAX_HOMES, load_campaign
from emulator.fleet.report import PAGE, PLOTS, Summary, findings_text, render, summarize
from emulator.fleet.runner import dask_client, run_fleet
from emulator.fleet.store import FleetStore, check_db, read_fleet
from emulator.interrupt import Interruption
from emulator.options import duration
from emulator.outputs import check_outputs, output_directory, write_atomic

DEFAULT_DB = Path("out") / "fleet.sqlite"
MAX_WORKERS = 256


@click.group()
def fleet() -> None:
    """Fleets: one campaign over many homes, results in SQLite, an HTML report."""


@fleet.command("run")
@click.argument("campaign_file", type=click.Path(path_type=Path))
@click.option("--homes", type=Int(1, MAX_HOMES), default=None, help="Homes (default: the file's).")
@click.option("--seed", type=Int(0, 2**63 - 1), default=None, help="Seed (default: the file's).")
@click.option(
    "--workers",
    type=Int(1, MAX_WORKERS),
    default=None,
    help="Run the homes on a Dask LocalCluster of this many processes (one thread each).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Run the homes on an existing Dask cluster (tcp://HOST:PORT; its workers need hanemu).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    default=None,
    help=f"The results database (SQLite; default {DEFAULT_DB}); an earlier fleet run there "
    "is replaced.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the summary as JSON here.",
)
@click.pass_context
def run(
    ctx: click.Context,
    campaign_file: Path,
    homes: int | None,
    seed: int | None,
    workers: int | None,
    scheduler: str | None,
    db_path: Path | None,
    report_path: Path | None,
) -> None:
    """Run every home of CAMPAIGN_FILE (a campaign file, docs/fleet.md) in virtual time and
    write one row per device to the results database, with the firmware inventory.

    Exit status 0 when every device came out as its option is expected to (its new firmware
    running, or refused by the DCC where the option is out of the DCC's scope), 1 otherwise
    (the database and the summary are still written), 2 for bad input, 130 (SIGINT) or 143
    (SIGTERM) when interrupted: the database holds every home finished before, whole."""
    if workers is not None and scheduler is not None:
        raise click.UsageError("--workers and --scheduler exclude each other")
    campaign = load_campaign(campaign_file)
    changes = {k: v for k, v in (("homes", homes), ("seed", seed)) if v is not None}
    campaign = campaign.replace(**changes)
    db = db_path or DEFAULT_DB
    if db_path is None:
        output_directory(db.parent, "--db")
    check_outputs({"--db": db, "--report": report_path}, [(campaign_file, "the campaign file")])
    check_db(db)
    with contextlib.ExitStack() as stack:
        client = None  # the cluster first: one that cannot be had leaves the database as it was
        if workers is not None or scheduler is not None:
            client = stack.enter_context(dask_client(workers or 0, scheduler))
        interruption = stack.enter_context(Interruption())
        store = stack.enter_context(FleetStore.create(db, campaign))
        outcome = _run(campaign, store, client, interruption)
    if outcome.interrupted is not None:
        click.echo(f"{outcome.homes} of {campaign.homes} home(s) in {shown(db)}", err=True)
        raise Interrupted(outcome.interrupted)
    summary = summarize(read_fleet(db))
    if report_path is not None:
        write_atomic(report_path, summary.json_text().encode())
    out = _stdout_console()
    if not out.is_terminal:
        out = _stdout_console(width=160)
    out.print(_table(summary))
    ctx.exit(0 if summary.ok else 1)


def _run(campaign, store, client, interruption):
    console = Console(stderr=True)
    with Progress(
        TextColumn("homes"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("homes", total=campaign.homes)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done)

        return run_fleet(
            campaign,
            store.add,
            client=client,
            progress=progress,
            interruption=interruption,
        )


SUMMARY = (
    "device, option (route)",
    "devices",
    "updated",
    "as expected",
    "time to update (median / p95)",
    "DCC messages",
    "site visits (engineer h)",
    "security findings",
    "retried",
)


def _table(summary: Summary) -> Table:
    """The summary; names come from files, so every cell is a `Text` (never read as markup)."""
    p = summary.parameters
    table = Table(
        title=Text(f"fleet {p.get('name')} ({summary.homes} homes, seed {p.get('seed')})")
    )
    for column in SUMMARY:
        table.add_column(column, overflow="fold")
    for g in summary.groups:
        times = g.to_json()["time_to_update_s"]
        row = (
            f"{g.device_type} {g.profile} ({g.route})",
            str(g.devices),
            f"{100 * g.success_rate:.1f}%",
            f"{g.as_expected}",
            f"{duration(times['median'])} / {duration(times['p95'])}",
            str(sum(g.dcc)),
            f"{g.site_visits} ({g.engineer_minutes / 60:g})",
            findings_text(g),
            str(g.retried),
        )
        style = None if g.as_expected == g.devices else "red"
        table.add_row(*map(Text, row), style=style)
    verdict = "every device as expected" if summary.ok else "NOT every device as expected"
    last = duration(summary.last_update_s)
    table.caption = (
        f"{summary.devices} devices, {summary.homes_as_expected} of {summary.homes} homes as "
        f"expected, {summary.retries} run(s) again, the last update {last} into the campaign: "
        f"{verdict}"
    )
    return table


@fleet.command("report")
@click.argument("db_path", metavar="DB", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("out") / "fleet",
    show_default=True,
    help="Write the page and its plots here; created when absent.",
)
def report(db_path: Path, out_dir: Path) -> None:
    """Write an HTML page (fleet.html) and PNG plots of a fleet run's results database: for
    each device type and option, success rate, time to update, DCC messages, site visits and
    security findings. Exit status 0, or 2 for a DB that holds no fleet run or an --out that
    cannot be written."""
    data = read_fleet(db_path)
    output_directory(out_dir)
    names = [PAGE, *PLOTS]
    check_outputs(
        {f"--out {shown(out_dir / name)}": out_dir / name for name in names},
        [(db_path, "the results database")],
    )
    for name, data_bytes in render(data).items():
        write_atomic(out_dir / name, data_bytes)
    click.echo(f"wrote {PAGE} and {len(PLOTS)} plots in {shown(out_dir)}")
