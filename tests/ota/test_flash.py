"""Device flash: records are atomic and checked, slots resume, activation swaps the image."""

from __future__ import annotations

import pytest
from ota_harness import make_image, running_image

from emulator.device.flash import (
    FileFlash,
    MemoryFlash,
    SharedImages,
    decode_record,
    encode_record,
)
from emulator.ota.client import DownloadRecord

RECORD = DownloadRecord(0x1234, 0x0101, 2, 1000, 400, 2)


def test_record_round_trip_and_every_torn_prefix_reads_as_no_record():
    data = encode_record(RECORD)
    assert decode_record(data) == RECORD
    for n in range(len(data)):
        assert decode_record(data[:n]) is None
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x10
        assert decode_record(bytes(flipped)) is None


def test_memory_flash_boot_reports_only_committed_progress():
    image = make_image(version=2)
    flash = MemoryFlash(running_image(1))
    flash.write_slot(0, image[:100])
    flash.commit_record(DownloadRecord(0x1234, 0x0101, 2, len(image), 50))
    flash.write_slot(100, image[100:150])  # written, never committed
    boot = flash.boot()
    assert boot.current_file_version == 1
    assert boot.record.file_offset == 50 and boot.slot == image[:50]
    with pytest.raises(ValueError):
        flash.activate()  # not complete


def _activated(image: bytes) -> MemoryFlash:
    flash = MemoryFlash(running_image(1))
    for offset in range(0, len(image), 50):  # block by block, as a download writes it
        flash.write_slot(offset, image[offset : offset + 50])
    flash.commit_record(DownloadRecord(0x1234, 0x0101, 2, len(image), len(image)))
    assert flash.activate() == 2
    return flash


def test_devices_that_activate_the_same_image_share_one_copy_of_it():
    image = make_image(version=2)
    first, second = _activated(image), _activated(bytes(bytearray(image)))
    assert first.running == image and first.running is second.running
    other = _activated(make_image(b"other firmware " * 30, version=2))
    assert other.running != image and other.running is not first.running


def test_shared_images_are_bounded_by_bytes_and_compared_in_full():
    shared = SharedImages(max_bytes=100)
    a, b = bytes(60), bytes([1]) * 60
    assert shared.share(bytearray(a)) == a
    held = shared.share(a)
    assert shared.share(b) == b  # a is dropped: 120 bytes would exceed the bound
    assert shared.share(a) is not held and shared.share(bytes(200)) == bytes(200)


def test_file_flash_survives_a_restart_and_activates_atomically(tmp_path):
    image = make_image(version=2)
    flash = FileFlash(tmp_path, running_image(1))
    flash.write_slot(0, image[:200])
    flash.commit_record(DownloadRecord(0x1234, 0x0101, 2, len(image), 200))
    again = FileFlash(tmp_path)  # power cycle: a fresh object reads the directory
    assert again.boot().record.file_offset == 200 and again.boot().slot == image[:200]
    again.write_slot(200, image[200:])
    again.commit_record(DownloadRecord(0x1234, 0x0101, 2, len(image), len(image)))
    assert again.activate() == 2
    after = FileFlash(tmp_path)
    assert after.running == image and after.record is None
    assert not list(tmp_path.glob("*.tmp"))
