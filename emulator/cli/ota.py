"""`hanemu ota ...`: run the OTA client and server from the command line.

`hanemu ota simulate` plays one emulated client against one emulated Comms Hub server in virtual
time and reports the outcome. With `--profile` the client is a GB device of that profile and the
head-end carries out an activation plan (`--activate`, `--supplier`, `--hash`, `--at`,
`--cancel`, `--replay`); without `--image` it distributes a GB image built to fit the profile.
It runs on the direct air unless `--radio zigpy`, in virtual time unless `--realtime`. SIGINT or
SIGTERM ends the run cleanly: the result so far is shown (the JSON says "interrupted": true) and
the exit status is 130 or 143. This module owns turning options into a `Scenario`
(`emulator.scenario.one_device`) and the result into text or JSON; it never holds protocol logic
or scheduling.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from emulator import framesize
from emulator.cli.params import Int
from emulator.device.campaign import (
    DEFAULT_IMAGE_SIZE,
    MODES,
    PARTIES,
    ActivationPlan,
    CampaignError,
)
from emulator.device.report import DeviceReport
from emulator.errors import Interrupted
from emulator.interrupt import Interruption
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import ServerPolicy
from emulator.profiles import load_profile
from emulator.radio.air import AIRS
from emulator.scenario import one_device, read_image, run


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


def _parse_hash(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CampaignError(f"--hash: {text!r} is not hexadecimal") from None


def _parse_time(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CampaignError(f"--at: {text!r} is not an ISO 8601 date-time") from None
    # No zone is UTC; any other offset (+01:00) is the same instant in UTC, as GBCS times are.
    when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    if when.microsecond:
        raise CampaignError("--at: GBCS times carry whole seconds")
    return when


def _explicit(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT


@ota.command()
@click.option(
    "--image",
    "image_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="OTA file the server offers (with --profile: default, an image built to fit it).",
)
@click.option(
    "--profile",
    "profile_name",
    default=None,
    metavar="NAME",
    help="Emulate a GB device of this profile (see `hanemu profiles list`).",
)
@click.option(
    "--activate",
    "activate",
    default=None,
    metavar="|".join(MODES),
    help="How the head-end activates (default auto: the profile's activation class).",
)
@click.option(
    "--supplier",
    default=None,
    metavar="|".join(PARTIES),
    help="Who sends CS06 (default A; forged claims to be A but signs with the rogue key).",
)
@click.option(
    "--hash",
    "hash_hex",
    default=None,
    metavar="HEX",
    help="Manufacturer Image hash CS06 carries (default: that of the image sent).",
)
@click.option(
    "--at",
    "at",
    default=None,
    metavar="ISO8601",
    help=(
        "Future-date the activation (virtual time 0 is 2026-01-01T00:00:00Z; no zone = UTC, "
        "an offset such as +01:00 is converted to UTC)."
    ),
)
@click.option("--cancel", is_flag=True, help="Cancel the future-dated activation afterwards.")
@click.option("--replay", is_flag=True, help="Send the activation command's bytes again.")
@click.option(
    "--image-size",
    type=Int(1, 16 * 1024 * 1024),
    default=DEFAULT_IMAGE_SIZE,
    show_default=True,
    help="With --profile and no --image: Manufacturer Image size in bytes.",
)
@click.option(
    "--current-version",
    type=Int(0, 0xFFFFFFFF),
    default=None,
    help="File version the client runs (default: the image's version - 1).",
)
@click.option(
    "--max-data-size",
    type=Int(1, 255),
    default=None,
    help="Client MaximumDataSize. [default: the largest block one 802.15.4 frame of the device "
    "holds: 56 with APS encryption]",
)
@click.option(
    "--server-block-cap",
    type=Int(1, 255),
    default=None,
    help="Largest block the server serves. [default: as --max-data-size]",
)
@click.option(
    "--page-size",
    type=Int(1, 0xFFFF),
    default=None,
    help="Use Image Page Requests of this many bytes.",
)
@click.option(
    "--wait-for-data",
    type=Int(0, 0xFFFFFFFE),
    default=0,
    help="Server answers the first block request with WAIT_FOR_DATA for this long (s).",
)
@click.option(
    "--min-block-period",
    type=Int(0, 0xFFFE),
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
@click.option("--seed", type=Int(0), default=0, show_default=True)
@click.option(
    "--radio",
    type=click.Choice(AIRS),
    default="direct",
    show_default=True,
    help="The air: direct (no Zigbee stack, fast), zigpy (a real zigpy coordinator) or ncp "
    "(the Comms Hub on stock bellows over TCP to hanemu's emulated NCP).",
)
@click.option("--realtime", is_flag=True, help="Run on the wall clock instead of virtual time.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def simulate(
    image_path: Path | None,
    profile_name: str | None,
    activate: str | None,
    supplier: str | None,
    hash_hex: str | None,
    at: str | None,
    cancel: bool,
    replay: bool,
    image_size: int,
    current_version: int | None,
    max_data_size: int | None,
    server_block_cap: int | None,
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
    radio: str,
    realtime: bool,
    as_json: bool,
) -> None:
    """Run one OTA client against one OTA server in virtual time.

    With --profile the client is a GB device: after the download it raises the receipt alert
    (8F72, or 8F1C for an image it refuses) and the head-end activates it as --activate says.
    The JSON then adds activation_response (the CS06 activateImageResponseCode: 0 success,
    1 noImageHeld, 2 hashMismatch, 3 activationFailure; null when no CS06 was answered with an
    outcome: refused before processing, future-dated (its result is alert 8F66 or 8F67), or
    none sent) and alerts (codes the head-end received, in order, e.g. "8F72").
    """
    if profile_name is None:
        _plain_options_only(image_path, activate, supplier, hash_hex, at, cancel, replay)
    image = read_image(image_path) if image_path is not None else None
    when, delay = upgrade_time
    profile = None if profile_name is None else load_profile(profile_name)
    security = framesize.SMART_ENERGY if profile is None else profile.zigbee.security
    _fits_frame("--max-data-size", max_data_size, security)
    _fits_frame("--server-block-cap", server_block_cap, security)
    scenario = one_device(
        profile=profile,
        image=image,
        image_size=image_size,
        plan=ActivationPlan(
            mode=activate or "auto",
            supplier=supplier or "A",
            image_hash=_parse_hash(hash_hex),
            at=_parse_time(at),
            cancel=cancel,
            replay=replay,
        ),
        current_version=current_version,
        max_data_size=max_data_size,
        page_size=page_size,
        server=ServerPolicy(
            block_size_cap=server_block_cap or framesize.max_block_data(security),
            wait_for_data_s=wait_for_data,
            min_block_period=min_block_period,
            upgrade_time=when,
            upgrade_delay_s=delay,
            release_after_s=release_after if when == "wait" else None,
        ),
        faults=LinkPolicy(drop=drop, duplicate=duplicate, reorder=reorder, corrupt=corrupt),
        power_loss=power_loss,
        seed=seed,
        radio=radio,
    )
    console = Console(stderr=True)
    with Progress(
        TextColumn("download"),
        BarColumn(),
        DownloadColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("download", total=None)

        def progress(_name: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        with Interruption() as interruption:  # SIGINT/SIGTERM: the result so far, exit 130/143
            report = run(scenario, realtime=realtime, progress=progress, interruption=interruption)
    result = report.devices[0]
    if as_json:
        stopped = {} if report.interrupted is None else {"interrupted": True}
        click.echo(
            json.dumps({**result.to_json(), "virtual_seconds": report.virtual_seconds, **stopped})
        )
    else:
        _print(result, report.virtual_seconds)
    if interruption.signum is not None:
        raise Interrupted(interruption.signum)


def _fits_frame(option: str, value: int | None, security: framesize.Security) -> None:
    """Refuse a block size no unfragmented frame to the device could carry."""
    problem = None if value is None else framesize.block_data_problem(value, security)
    if problem is not None:
        raise click.BadParameter(problem, param_hint=f"'{option}'")


def _plain_options_only(image_path, activate, supplier, hash_hex, at, cancel, replay) -> None:
    """Without --profile: the GB options (and --image-size, which sizes the image built for a
    profile) make no sense, and an image is needed."""
    ctx = click.get_current_context(silent=True)
    sized = ctx is not None and _explicit(ctx, "image_size")
    given = [
        f"--{name}"
        for name, value in (
            ("activate", activate),
            ("supplier", supplier),
            ("hash", hash_hex),
            ("at", at),
            ("cancel", cancel or None),
            ("replay", replay or None),
            ("image-size", sized or None),
        )
        if value is not None
    ]
    if given:
        raise CampaignError(f"{', '.join(given)} needs --profile")
    if image_path is None:
        raise CampaignError("give --image FILE or --profile NAME")


def _print(result: DeviceReport, seconds: float) -> None:
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
    click.echo(f"virtual time:     {seconds:.3f} s")
    if result.gb is not None:
        gb = result.gb
        click.echo(f"profile:          {result.profile} (activation {gb['activation_mode']})")
        click.echo(f"alerts:           {' '.join(result.alerts) or '-'}")
        response = result.activation_response
        click.echo(f"CS06 response:    {'-' if response is None else response}")
        for command in gb["commands"]:
            verdict = command.get("verdict", "not processed")
            answer = command.get("response")
            click.echo(
                f"  {command['kind']:<16}{verdict}"
                + ("" if answer is None else f", response code {answer}")
            )
