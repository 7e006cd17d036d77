"""`hanemu ota ...`: run the OTA client and server from the command line.

`hanemu ota simulate` plays one emulated client against one emulated Comms Hub server in virtual
time and reports the outcome. This module owns turning options into policies and results into
text or JSON; it never holds protocol logic (that is `emulator.ota`) or scheduling (that is
`emulator.device.simulation`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from emulator.device.simulation import PowerCut, Simulation
from emulator.ota.client import ClientIdentity
from emulator.ota.image import build_image, parse_header
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import ClientPolicy, ServerPolicy


class _UpgradeTime(click.ParamType):
    name = "now|SECONDS|wait"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        text = str(value).strip().lower()
        if text in ("now", "wait"):
            return (text, 0)
        try:
            seconds = int(text)
        except ValueError:
            self.fail(f"{value!r} is not 'now', 'wait' or a number of seconds", param, ctx)
        if not 0 <= seconds <= 0xFFFFFFFE:
            self.fail(f"{seconds} is outside 0..4294967294 seconds", param, ctx)
        return ("delay", seconds)


_RATE = click.FloatRange(0.0, 1.0)


@click.group()
def ota() -> None:
    """The OTA Upgrade cluster: client and server state machines."""


@ota.command()
@click.option(
    "--image",
    "image_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="OTA file the server offers.",
)
@click.option(
    "--current-version",
    type=click.IntRange(0, 0xFFFFFFFF),
    default=None,
    help="File version the client runs (default: the image's version - 1).",
)
@click.option(
    "--max-data-size",
    type=click.IntRange(1, 255),
    default=63,
    show_default=True,
    help="Client MaximumDataSize.",
)
@click.option(
    "--server-block-cap",
    type=click.IntRange(1, 255),
    default=50,
    show_default=True,
    help="Largest block the server serves.",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 0xFFFF),
    default=None,
    help="Use Image Page Requests of this many bytes.",
)
@click.option(
    "--wait-for-data",
    type=click.IntRange(0, 0xFFFFFFFE),
    default=0,
    help="Server answers the first block request with WAIT_FOR_DATA for this long (s).",
)
@click.option(
    "--min-block-period",
    type=click.IntRange(0, 0xFFFE),
    default=None,
    help="MinimumBlockPeriod the server imposes (ms).",
)
@click.option(
    "--upgrade-time",
    type=_UpgradeTime(),
    default="now",
    show_default=True,
    help="Upgrade End Response: now, a delay in seconds, or wait (0xFFFFFFFF).",
)
@click.option(
    "--release-after",
    type=click.FloatRange(0),
    default=3600.0,
    show_default=True,
    help="With --upgrade-time wait: seconds until the unsolicited 'upgrade now'.",
)
@click.option("--drop", type=_RATE, default=0.0, help="Frame drop rate.")
@click.option("--duplicate", type=_RATE, default=0.0, help="Frame duplication rate.")
@click.option("--reorder", type=_RATE, default=0.0, help="Frame reordering rate.")
@click.option(
    "--corrupt",
    type=_RATE,
    default=0.0,
    help="Rate of frames with one bit flipped (as if no MIC caught it).",
)
@click.option(
    "--power-loss",
    "power_loss",
    type=click.FloatRange(0.0, 1.0),
    multiple=True,
    help="Cut power when the download reaches this fraction (repeatable).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def simulate(
    image_path: Path,
    current_version: int | None,
    max_data_size: int,
    server_block_cap: int,
    page_size: int | None,
    wait_for_data: int,
    min_block_period: int | None,
    upgrade_time: tuple[str, int],
    release_after: float,
    drop: float,
    duplicate: float,
    reorder: float,
    corrupt: float,
    power_loss: tuple[float, ...],
    seed: int,
    as_json: bool,
) -> None:
    """Run one OTA client against one OTA server in virtual time."""
    data = image_path.read_bytes()
    header = parse_header(data)
    if current_version is None:
        current_version = max(0, header.file_version - 1)
    running = build_image(
        b"running image",
        manufacturer_id=header.manufacturer_id,
        image_type=header.image_type,
        file_version=current_version,
    )
    client_policy = ClientPolicy(
        max_data_size=max_data_size,
        use_page_requests=page_size is not None,
        page_size=page_size or 1024,
    )
    when, delay = upgrade_time
    server_policy = ServerPolicy(
        block_size_cap=server_block_cap,
        wait_for_data_s=wait_for_data,
        min_block_period=min_block_period,
        upgrade_time=when,
        upgrade_delay_s=delay,
        release_after_s=release_after if when == "wait" else None,
    )
    link = LinkPolicy(drop=drop, duplicate=duplicate, reorder=reorder, corrupt=corrupt)
    console = Console(stderr=True)
    with Progress(
        TextColumn("download"),
        BarColumn(),
        DownloadColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("download", total=len(data))

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or len(data))

        sim = Simulation(
            running_image=running,
            images=[data],
            identity=ClientIdentity(header.manufacturer_id, header.image_type),
            client_policy=client_policy,
            server_policy=server_policy,
            link=link,
            power_cuts=[PowerCut(at_fraction=f) for f in power_loss],
            seed=seed,
            progress=progress,
        )
        result = sim.run()
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    click.echo(
        f"outcome:          {result.outcome}" + (f" ({result.reason})" if result.reason else "")
    )
    click.echo(
        f"file version:     0x{result.start_file_version:08X} -> 0x{result.final_file_version:08X}"
    )
    click.echo(
        f"downloaded:       {result.bytes} bytes, {result.blocks} blocks, {result.retries} retries"
    )
    click.echo(f"power losses:     {result.power_losses}")
    click.echo(f"virtual time:     {result.virtual_seconds:.3f} s")
