"""The sample OTA images and test supplier keys shipped under images/, made reproducibly.

`scripts/make-images` calls `write_samples`; the tests call it too and compare with the committed
files, so the samples can always be rebuilt byte for byte. Keys come from emulator.testpki (a
throw-away test PKI, never real vendor keys).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from emulator.ota.image import build_gb_image, build_image
from emulator.testpki import derive_key, write_key_pair

SEED = 2026
SAMPLE_MANUFACTURER_ID = 0x1234
SUPPLIER = "supplier-a"


@dataclass(frozen=True)
class Sample:
    name: str
    description: str
    data: bytes


def _payload(name: str, size: int) -> bytes:
    return random.Random(f"{SEED}/{name}").randbytes(size)


def samples() -> list[Sample]:
    """Every sample image, built from seeded payloads."""
    supplier = derive_key(SUPPLIER)
    return [
        Sample(
            "zigbee-integrity.ota",
            "standard Zigbee OTA file with hardware range and Image Integrity Code",
            build_image(
                _payload("zigbee", 4096),
                manufacturer_id=SAMPLE_MANUFACTURER_ID,
                image_type=0x0001,
                file_version=0x01020304,
                header_string="hanemu sample zigbee image",
                min_hw=0x0100,
                max_hw=0x01FF,
                integrity=True,
            ),
        ),
        Sample(
            "gb-hcalcs.ota",
            "GB OTA Upgrade Image signed by the test supplier A (HCALCS/ESME form)",
            build_gb_image(
                _payload("gb-hcalcs", 8192),
                manufacturer_id=SAMPLE_MANUFACTURER_ID,
                image_type=0x0301,
                file_version=0x00000102,
                min_hw=0x0100,
                max_hw=0x01FF,
                header_string="hanemu sample HCALCS image",
                supplier_key=supplier,
            ),
        ),
        Sample(
            "gb-ppmid.ota",
            "GB OTA Upgrade Image in the PPMID form (no supplier signature)",
            build_gb_image(
                _payload("gb-ppmid", 2048),
                manufacturer_id=SAMPLE_MANUFACTURER_ID,
                image_type=0x0201,
                file_version=0x00000102,
                min_hw=0x0100,
                max_hw=0x01FF,
                header_string="hanemu sample PPMID image",
            ),
        ),
    ]


def write_samples(directory: Path) -> list[Path]:
    """Write the sample images and the supplier's test key pair under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = list(write_key_pair(directory / "pki", SUPPLIER))
    for sample in samples():
        path = directory / sample.name
        path.write_bytes(sample.data)
        written.append(path)
    return written
