"""Benchmarks: parsing and verifying cost grows linearly with file size (1 MB vs 2 MB ≈ 2x).

Run with `scripts/test tests/bench --benchmark-enable`; in the normal suite each runs once as a
plain test.
"""

import hashlib
import random

import pytest

from emulator.ota.image import build_gb_image, build_image, parse_image
from emulator.ota.verify import verify_file
from emulator.testpki import derive_key

MB = 1 << 20
KEY = derive_key("supplier-a")


def payload(megabytes: int) -> bytes:
    return random.Random(megabytes).randbytes(megabytes * MB)


@pytest.fixture(scope="module", params=[1, 2], ids=["1MB", "2MB"])
def zigbee_file(request):
    return build_image(
        payload(request.param), manufacturer_id=1, image_type=2, file_version=3, integrity=True
    )


@pytest.fixture(scope="module", params=[1, 2], ids=["1MB", "2MB"])
def gb_file(request):
    body = payload(request.param)
    data = build_gb_image(
        body,
        manufacturer_id=1,
        image_type=2,
        file_version=3,
        min_hw=1,
        max_hw=2,
        supplier_key=KEY,
    )
    return data, hashlib.sha256(body).digest()


def test_bench_parse_zigbee(benchmark, zigbee_file):
    ota = benchmark(parse_image, zigbee_file)
    assert ota.header.image_size == len(zigbee_file)


def test_bench_verify_integrity(benchmark, zigbee_file):
    ota = parse_image(zigbee_file)
    assert benchmark(verify_file, ota).ok


def test_bench_parse_and_verify_gb(benchmark, gb_file):
    data, digest = gb_file

    def run():
        ota = parse_image(data)
        return verify_file(ota, supplier_public_key=KEY.public_key(), expected_hash=digest)

    assert benchmark(run).ok
