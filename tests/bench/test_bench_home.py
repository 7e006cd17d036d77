"""Benchmark: one 64 KiB OTA in a home on the virtual radio, served by hanemu's Comms Hub server
and by zigpy's own `update_firmware` (OTAManager), on the same image and the same device.

Run with `scripts/test tests/bench/test_bench_home.py --benchmark-enable`; in the normal suite
each runs once as a plain test. `extra_info` records blocks, bytes and virtual seconds.
"""

from __future__ import annotations

import textwrap

import pytest

from emulator.home import load_home, run_home

HOME = """
[home]
name = "bench"
seed = 5

[server]
implementation = "{server}"
max_block_size = 50

[[device]]
name = "hcalcs"
profile = "hcalcs-opt1"
expect = "activated"

[[campaign]]
device = "hcalcs"
build = {{ file_version = 0x0123ABCE, size = 65536 }}
"""


@pytest.mark.parametrize("server", ["hanemu", "zigpy"])
def test_bench_home_ota_64k(benchmark, tmp_path, server):
    path = tmp_path / f"{server}.toml"
    path.write_text(textwrap.dedent(HOME.format(server=server)))
    config = load_home(path)
    report = benchmark.pedantic(run_home, args=(config,), rounds=3, iterations=1)
    device = report.devices[0]
    assert device.outcome == "activated", device.reason
    assert device.bytes > 65536 and device.blocks == -(-device.bytes // 50)
    benchmark.extra_info.update(
        server=server,
        bytes=device.bytes,
        blocks=device.blocks,
        frames=report.frames,
        virtual_seconds=report.virtual_seconds,
        download_seconds=device.download_seconds,
    )
