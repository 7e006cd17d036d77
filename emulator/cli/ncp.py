"""`hanemu ncp ...`: hanemu's emulated Silicon Labs EZSP NCP on a TCP port.

`hanemu ncp serve [HOME.toml]` puts a home's emulated devices behind an emulated NCP
(`emulator.radio.ncp`) and serves it on loopback in real time until SIGINT or SIGTERM, so a
host stack (bellows/ZHA with `socket://`, zigbee-herdsman's ember driver with `tcp://`) talks
to them as to a network-attached dongle; the host is the Comms Hub (the home's campaigns are not
run). This module owns turning options into that server and printing the addresses; it never
holds protocol logic. With `--zep HOST:PORT` every frame on the devices' air streams live as
ZEP v2 (`radio.zep.ZepSink`), stamped with the home's time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from emulator.cli.params import Int, ZepAddress
from emulator.errors import Interrupted
from emulator.home import DEFAULT_HOME, load_home, scenario_for
from emulator.interrupt import Interruption
from emulator.radio.ncp.ezsp import DEFAULT_VERSION, SUPPORTED_VERSIONS
from emulator.radio.zep import ZepSink


@click.group()
def ncp() -> None:
    """An emulated EZSP NCP (a Silicon Labs dongle) on a TCP port, with a home behind it."""


@ncp.command("serve")
@click.argument("home_file", required=False, type=click.Path(path_type=Path), default=None)
@click.option(
    "--port",
    type=Int(0, 65535),
    default=6638,
    show_default=True,
    help="TCP port to listen on (0: any free port, printed).",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback)."
)
@click.option(
    "--ezsp-version",
    type=click.Choice([str(v) for v in SUPPORTED_VERSIONS]),
    default=str(DEFAULT_VERSION),
    show_default=True,
    help="EZSP protocol version the NCP reports.",
)
@click.option("--seed", type=Int(0), default=None, help="Seed (default: the home file's).")
@click.option(
    "--zep",
    type=ZepAddress(),
    default=None,
    help="Stream every frame on the devices' air live as ZEP v2 over UDP to HOST:PORT "
    "(Wireshark decodes port 17754), e.g. 127.0.0.1:17754.",
)
def serve(
    home_file: Path | None,
    port: int,
    host: str,
    ezsp_version: str,
    seed: int | None,
    zep: tuple[str, int] | None,
) -> None:
    """Serve HOME_FILE's devices (default: profiles/homes/default.toml) behind an emulated NCP
    until SIGINT or SIGTERM (exit 130 or 143).

    Give bellows (ZHA) `socket://HOST:PORT` and zigbee-herdsman (adapter "ember")
    `tcp://HOST:PORT`. The host forms the network (or resumes the one the NCP kept since it
    started); the devices join, one after another, when the host permits joining."""
    config = load_home(home_file or DEFAULT_HOME)
    scenario = scenario_for(config, seed=seed)
    sink = None if zep is None else ZepSink(*zep)
    with Interruption() as interruption:
        try:
            asyncio.run(_serve(scenario, host, port, int(ezsp_version), interruption, sink))
        finally:
            if sink is not None:
                sink.close()
                click.echo(sink.summary(), err=True)
    if interruption.signum is not None:
        raise Interrupted(interruption.signum)


async def _serve(
    scenario, host: str, port: int, version: int, interruption: Interruption, sink: ZepSink | None
):
    from emulator.radio.ncp.server import NcpHome, NcpServer

    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()

    def stop() -> None:  # from a signal handler: hand the work to the loop
        loop.call_soon_threadsafe(stopped.set)

    home = NcpHome(scenario.devices, version=version, seed=scenario.seed)
    if sink is not None:  # stamped with the home's time, as a scenario stamps its captures
        home.net.captures.append(lambda packet, _loop_time: sink(packet, home.clock.now))
    server = NcpServer(home, host=host, port=port)
    bound = await server.start()
    interruption.attach(stop)
    try:
        click.echo(f"hanemu NCP (EZSP v{version}) for home {scenario.name!r} on {host}:{bound}")
        click.echo(f"  bellows / ZHA:            socket://{host}:{bound}")
        click.echo(f"  zigbee-herdsman (ember):  tcp://{host}:{bound}")
        for d in home.devices:
            click.echo(
                f"  device {d.device.name}: NWK 0x{d.device.nwk:04X}, EUI-64 {d.node.ieee}"
                f" (joins when the host permits joining)"
            )
        await stopped.wait()
    finally:
        interruption.detach(stop)
        await server.stop()
