"""`hanemu ncp serve` as a user runs it, with stock bellows connecting to the address it prints.

The server is a subprocess in real time; bellows forms the network, comes back (the network
resumes and its endpoints are registered, as after a restart), opens the network, has both
devices of the home file interviewed and upgrades the IHD with zigpy's `update_firmware`, then
reads the new version back from the device. SIGTERM ends the server with exit status 143.
(The in-process tests in test_bellows.py check the installed image byte for byte.) The server
streams its devices' air with `--zep` to a socket this test reads, and tshark dissects that
stream with nothing malformed, OTA Upgrade commands among it.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time

from bellows.zigbee.application import ControllerApplication
from tools import installed
from wire import newer_image
from zigpy.zcl import foundation

from emulator.profiles import load_profile
from tests.home.test_zep import _drain, _fields, _receiver, _write_ipv4_pcap
from tests.radio.ncp.test_bellows import bellows_config, interviewed, zigpy_image

HOME = """
[home]
name = "ncp"
seed = 5

[[device]]
name = "ihd"
profile = "ihd"
route = "local"

[[device]]
name = "ppmid"
profile = "ppmid-opt1"
"""


def _address(server: subprocess.Popen, limit: float = 30.0) -> tuple[str, list[str]]:
    """The bellows address `hanemu ncp serve` prints, and its device lines."""
    lines: list[str] = []
    deadline = time.monotonic() + limit
    assert server.stdout is not None
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.lstrip().startswith("device ppmid"):
            for seen in lines:
                found = re.search(r"socket://127\.0\.0\.1:(\d+)", seen)
                if found:
                    return found.group(1), lines
    raise AssertionError(f"no address printed: {lines!r}")


def test_ncp_serve_with_stock_bellows(tmp_path):
    tshark = installed("tshark")
    home = tmp_path / "home.toml"
    home.write_text(HOME)
    rx = _receiver()
    zep_port = rx.getsockname()[1]
    command = ["ncp", "serve", str(home), "--port", "0", "--ezsp-version", "14"]
    command += ["--zep", f"127.0.0.1:{zep_port}"]
    server = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port, lines = _address(server)
        assert any(f"tcp://127.0.0.1:{port}" in line for line in lines)
        z = load_profile("ihd").zigbee
        data = newer_image(z, size=2000, seed=4)

        async def main():
            config = bellows_config(int(port))
            app = await ControllerApplication.new(config, auto_form=True)
            await app.shutdown()
            app = await ControllerApplication.new(config, auto_form=False)
            version = app._ezsp.ezsp_version
            await app.permit(60)
            ieees: list = []
            for _ in range(60):  # devices are known once they joined: wait for both
                ieees = [d.ieee for d in app.devices.values() if d.nwk != 0x0000]
                if len(ieees) == 2:
                    break
                await asyncio.sleep(0.5)
            devices = await interviewed(app, ieees, limit=60)
            ihd = next(d for d in devices if d.model == "IHD ihd")
            status = await ihd.update_firmware(zigpy_image(data))
            running = ihd.endpoints[1].out_clusters[0x0019].get("current_file_version")
            await app.shutdown()
            return version, sorted(d.model for d in devices), status, running

        version, models, status, running = asyncio.run(main())
    finally:
        server.send_signal(signal.SIGTERM)
        _out, err = server.communicate(timeout=30)
        datagrams: list[tuple[bytes, int]] = []
        _drain(rx, datagrams)
        rx.close()
    assert version == 14
    assert models == ["IHD ihd", "PPMID ppmid-opt1"]
    assert status == foundation.Status.SUCCESS
    assert running == z.firmware_version + 1
    assert server.returncode == 143, err
    assert err.strip().splitlines()[-1] == "terminated"
    # The live stream: every datagram ZEP v2 data, tshark finds nothing malformed in it, and the
    # OTA upgrade bellows ran is in it.
    assert datagrams and all(d.startswith(b"EX\x02\x01") for d, _ in datagrams)
    zep_pcap = tmp_path / "zep.pcap"
    _write_ipv4_pcap(zep_pcap, datagrams, zep_port)
    bad = "_ws.malformed || _ws.expert.severity == error || !(wpan.fcs_ok == 1)"
    assert _fields(tshark, zep_pcap, bad, "frame.number", port=zep_port) == []
    blocks = "zbee_zcl_general.ota.cmd.srv_tx.id == 0x05"  # Image Block Response
    assert _fields(tshark, zep_pcap, blocks, "frame.number", port=zep_port)
