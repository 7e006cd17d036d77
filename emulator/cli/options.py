"""`hanemu options assess`: run every option home and write the options paper's assessment.

This module owns turning the options into a run of `emulator.options` and its result into files:
`assessment.md`, `assessment.json`, `assessment.html` and the runs' firmware inventory
`inventory.sqlite`, each written whole (`emulator.outputs`) once every home has run; the output
paths are checked before the first run. SIGINT or SIGTERM ends the assessment with nothing
written (a partial assessment would read as a whole one), exit 130 or 143. It never holds
protocol logic or scheduling.
"""

from __future__ import annotations

from pathlib import Path

import click

from emulator.errors import Interrupted
from emulator.files import shown
from emulator.home import home_inputs, load_home
from emulator.interrupt import Interruption
from emulator.inventory import Inventory
from emulator.options import OPTIONS_DIR, HomeRun, assess, option_homes
from emulator.outputs import check_outputs, output_directory, write_atomic

OUTPUTS = {
    "markdown": "assessment.md",
    "json": "assessment.json",
    "html": "assessment.html",
    "inventory": "inventory.sqlite",
}
"""What `assess` writes in its output directory."""
DEFAULT_OUT = Path("out") / "options"


@click.group()
def options() -> None:
    """The options paper: each option for updating firmware on IHD, PPMID, HCALCS and CAD."""


@options.command("assess")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Write the assessment (Markdown, JSON, HTML) and the runs' inventory here; created "
    "when absent.",
)
@click.option(
    "--homes",
    "homes_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Assess the option homes (*.toml) in this directory instead of the shipped ones "
    "(profiles/homes/options).",
)
@click.pass_context
def assess_command(ctx: click.Context, out_dir: Path, homes_dir: Path | None) -> None:
    """Run every option home in virtual time and write what each device's update came to:
    whether it works end to end, security findings, consent, site visits and engineer
    minutes, DCC messages, time to update, and whether it needs a Technical Specification
    change (docs/options.md).

    Exit status 0 when every home ran as it expects, 1 otherwise (the assessment is still
    written), 2 for bad input (no option homes, a home that does not load, an output that
    cannot be written), 130 or 143 when interrupted (nothing written)."""
    paths = option_homes(homes_dir or OPTIONS_DIR)
    inputs = []
    for path in paths:  # every home loads before anything runs or is created
        inputs += home_inputs(load_home(path), path)
    targets = _prepare(out_dir, inputs)
    with Interruption() as interruption, Inventory.memory() as inventory:
        assessment = assess(paths, inventory=inventory, interruption=interruption, progress=_said)
        if interruption.signum is not None:
            raise Interrupted(interruption.signum)
        files = {
            "markdown": assessment.markdown().encode(),
            "json": assessment.json_text().encode(),
            "html": assessment.html().encode(),
            "inventory": inventory.serialize(),
        }
    for key, data in files.items():
        write_atomic(targets[key], data)
    verdict = "every home as expected" if assessment.ok else "NOT every home as expected"
    click.echo(
        f"{len(assessment.homes)} option home(s), {len(assessment.rows)} device(s): {verdict}; "
        f"wrote {', '.join(OUTPUTS.values())} in {shown(out_dir)}"
    )
    ctx.exit(0 if assessment.ok else 1)


def _prepare(out_dir: Path, inputs: list[tuple[Path, str]]) -> dict[str, Path]:
    """Create the output directory and check every output path in it, before any run."""
    output_directory(out_dir)
    targets = {key: out_dir / name for key, name in OUTPUTS.items()}
    check_outputs({f"--out {shown(path)}": path for path in targets.values()}, inputs)
    return targets


def _said(home: HomeRun) -> None:
    verdict = "as expected" if home.ok else "NOT as expected"
    click.echo(f"{home.option}: {home.home_file} {verdict}", err=True)
