"""tshark dissects the pcap of a home run: every OTA command frame as ZCL OTA Upgrade with the
command and offsets the emulator sent, nothing malformed."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from tools import installed

from emulator.home import load_home, run_home

ROOT = Path(__file__).resolve().parents[2]
BLOCK = 50
OTA_NAMES = {
    "Query Next Image Request",
    "Query Next Image Response",
    "Image Block Request",
    "Image Block Response",
    "Upgrade End Request",
    "Upgrade End Response",
    "Image Notify",
}


def _fields(tshark: str, pcap: Path, display_filter: str, *fields: str) -> list[list[str]]:
    args = [tshark, "-r", str(pcap), "-Y", display_filter, "-T", "fields", "-E", "separator=|"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    tshark = installed("tshark")
    pcap = tmp_path_factory.mktemp("pcap") / "home.pcap"
    report = run_home(load_home(ROOT / "profiles" / "homes" / "default.toml"), pcap=pcap)
    return tshark, pcap, report


def test_nothing_is_malformed(capture):
    tshark, pcap, report = capture
    bad = _fields(tshark, pcap, "_ws.malformed || _ws.expert.severity == error", "frame.number")
    assert bad == []
    total = _fields(tshark, pcap, "frame", "frame.number")
    assert len(total) == report.frames > 1000


def test_every_ota_command_frame_dissects_as_zcl_ota(capture):
    tshark, pcap, _ = capture
    rows = _fields(
        tshark,
        pcap,
        "zbee_aps.cluster == 0x0019 && zbee_zcl.type == 1",
        "zbee_aps.profile",
        "_ws.col.Info",
    )
    assert rows
    names = set()
    for profile, info in rows:
        assert profile == "0x0109"
        assert "ZCL OTA: " in info, info
        names.add(info.split("ZCL OTA: ")[1].split(",")[0])
    assert names == OTA_NAMES


def test_block_offsets_are_the_ones_served(capture):
    tshark, pcap, report = capture
    requests = _fields(
        tshark,
        pcap,
        "zbee_zcl_general.ota.cmd.srv_rx.id == 0x03",
        "wpan.src16",
        "zbee_zcl_general.ota.file.offset",
        "zbee_zcl_general.ota.max_data_size",
    )
    responses = _fields(
        tshark,
        pcap,
        "zbee_zcl_general.ota.cmd.srv_tx.id == 0x05",
        "wpan.dst16",
        "zbee_zcl_general.ota.file.offset",
        "zbee_zcl_general.ota.data_size",
    )
    asked, served = defaultdict(list), defaultdict(list)
    for node, offset, _size in requests:
        asked[node].append(int(offset))
    sizes = defaultdict(int)
    for node, offset, size in responses:
        served[node].append(int(offset))
        sizes[node] += int(size)
    downloads = [d for d in report.devices if d.route == "dcc"]
    assert len(asked) == len(downloads) == 3
    for node, offsets in asked.items():
        device_bytes = sizes[node]
        assert offsets == served[node] == list(range(0, device_bytes, BLOCK))
        assert device_bytes in {d.bytes for d in downloads}
