"""The sample OTA images and the test PKI shipped under images/, made reproducibly.

`scripts/make-images` calls `write_samples` and `scripts/make-keys` calls `write_test_pki`; the
tests call both and compare with the committed files, so everything under images/ can always be
rebuilt byte for byte. Keys come from emulator.testpki (a throw-away test PKI, never real vendor
or supplier keys).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from emulator.ota.image import build_gb_image, build_image
from emulator.profiles import load_all
from emulator.testpki import DEFAULT_SEED, derive_key, write_key_pair

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


def test_pki_names() -> list[str]:
    """Supplier A and B, a rogue key, the DCC Access Control Broker, and for every profile on
    the DCC route a device key-agreement (`-ka`) and digital-signing (`-ds`) key."""
    names = ["supplier-a", "supplier-b", "rogue", "acb"]
    for profile in load_all():
        if "dcc" in profile.routes:
            names += [f"{profile.name}-ka", f"{profile.name}-ds"]
    return names


def write_test_pki(directory: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write every test key pair (`<name>.key.pem`, `<name>.cert.pem`) under `directory`."""
    written: list[Path] = []
    for name in test_pki_names():
        written.extend(write_key_pair(directory, name, seed))
    return written


def write_samples(directory: Path) -> list[Path]:
    """Write the sample images under `directory` (their signing key is in `pki/`)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for sample in samples():
        path = directory / sample.name
        path.write_bytes(sample.data)
        written.append(path)
    return written
