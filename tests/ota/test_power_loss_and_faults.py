"""Power loss at random instants and a lossy link: downloads still end byte-exact and activated."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ota_harness import IDENTITY, make_image, running_image
from simulation import Simulation

from emulator.device.emulated import PowerCut
from emulator.device.flash import MemoryFlash, encode_record
from emulator.ota.client import DownloadRecord
from emulator.ota.link import LinkPolicy
from emulator.ota.policy import ClientPolicy, ServerPolicy

RUNNING = running_image(1)
FAST_START = ClientPolicy(start_delay_min_s=1, start_delay_max_s=5)
RUNS = 1000
CHUNKS = 4


def _sim(image: bytes, index: int, cuts=()) -> Simulation:
    return Simulation(
        running_image=RUNNING,
        images=[image],
        identity=IDENTITY,
        client_policy=FAST_START,
        power_cuts=cuts,
        seed=index,
    )


def _power_loss_run(index: int, image: bytes) -> None:
    rng = random.Random(index)
    # The same seed replays the same run up to the first cut, so a cut chosen inside the clean
    # run's download window lands inside the download.
    clean = _sim(image, index).run()
    start = next(e["t"] for e in clean.events if e.get("to") == "download")
    end = next(e["t"] for e in clean.events if e.get("to") == "verify-image")
    flash_ops = 1 + 2 * clean.blocks
    cuts = []
    for n in range(rng.randint(1, 3)):
        off = rng.uniform(0.1, 30)
        if rng.random() < 0.5:
            # After any flash operation: an odd count falls between a write and its commit.
            cuts.append(PowerCut(after_flash_ops=rng.randint(1, flash_ops), off_for_s=off))
        else:
            window = (start, end) if n == 0 else (start, end + 300)
            cuts.append(PowerCut(at_time=rng.uniform(*window), off_for_s=off))
    sim = _sim(image, index, cuts)
    result = sim.run()
    assert result.outcome == "activated", (index, result.reason)
    assert result.running_image == image, index
    assert not result.running_changed_before_activation, index
    assert result.invalid_records == 0
    # Each boot resumes exactly where flash's committed record says, never from 0 by itself.
    assert result.resumed_from == result.committed_at_cut, index
    assert result.power_losses == len(result.committed_at_cut) >= 1
    resumes = [e for e in result.events if e.get("from") == "get-server-eui"]
    for event in resumes:
        if event["to"] == "download":
            assert event["file_offset"] in result.resumed_from


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_power_loss_at_1000_random_instants_never_loses_the_image(chunk):
    image = make_image(bytes(random.Random(chunk).randbytes(900)), version=2)
    for index in range(chunk, RUNS, CHUNKS):
        _power_loss_run(index, image)


def test_power_loss_with_a_torn_record_restarts_from_zero_and_still_finishes():
    image = make_image(version=2)
    flash = MemoryFlash(RUNNING)
    good = encode_record(DownloadRecord(0x1234, 0x0101, 2, len(image), 200))
    flash.write_slot(0, image[:200])
    flash.corrupt_record(good[:-3])  # a torn write of the record
    sim = Simulation(
        running_image=RUNNING,
        images=[image],
        identity=IDENTITY,
        flash=flash,
        seed=1,
        power_cuts=[PowerCut(at_fraction=0.5)],
    )
    result = sim.run()
    assert result.invalid_records == 1
    first_download = next(e for e in result.events if e.get("to") == "download")
    assert first_download["file_offset"] == 0
    assert result.outcome == "activated" and result.running_image == image


def test_power_loss_after_a_complete_download_reverifies_instead_of_fetching_again():
    image = make_image(version=2)
    flash = MemoryFlash(RUNNING)
    flash.write_slot(0, image)
    flash.commit_record(DownloadRecord(0x1234, 0x0101, 2, len(image), len(image)))
    sim = Simulation(running_image=RUNNING, images=[image], identity=IDENTITY, flash=flash, seed=2)
    result = sim.run()
    assert result.outcome == "activated" and result.running_image == image
    assert result.bytes == 0 and sim.server.blocks_served == 0
    assert [e["to"] for e in result.events if e.get("from") == "get-server-eui"] == ["verify-image"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=st.binary(min_size=1, max_size=3000),
    seed=st.integers(0, 2**32 - 1),
    max_data_size=st.integers(16, 63),
)
def test_lossy_link_downloads_complete_byte_exact(payload, seed, max_data_size):
    image = make_image(payload, version=2)
    link = LinkPolicy(drop=0.05, duplicate=0.01, reorder=0.05)
    sim = Simulation(
        running_image=RUNNING,
        images=[image],
        identity=IDENTITY,
        link=link,
        client_policy=ClientPolicy(max_data_size=max_data_size),
        seed=seed,
    )
    result = sim.run()
    assert result.outcome == "activated", result.reason
    assert result.running_image == image


def test_lossy_link_really_loses_duplicates_and_reorders():
    image = make_image(bytes(4000), version=2)
    link = LinkPolicy(drop=0.05, duplicate=0.01, reorder=0.05)
    sim = Simulation(running_image=RUNNING, images=[image], identity=IDENTITY, link=link, seed=3)
    result = sim.run()
    stats = sim.up.stats, sim.down.stats
    assert all(s.dropped and s.reordered for s in stats)
    assert sum(s.duplicated for s in stats) > 0
    assert result.retries > 0 and result.running_image == image


def test_server_misbehaving_with_wrong_offsets_does_not_corrupt_the_download():
    image = make_image(bytes(range(256)) * 4, version=2)
    sim = Simulation(
        running_image=RUNNING,
        images=[image],
        identity=IDENTITY,
        seed=4,
        server_policy=ServerPolicy(
            misbehaviour="wrong-offset", misbehave_from_offset=100, misbehave_count=5
        ),
    )
    result = sim.run()
    assert result.outcome == "activated" and result.running_image == image
    assert result.retries == 5
