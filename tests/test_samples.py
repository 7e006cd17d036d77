"""The committed sample images rebuild byte for byte, and each checks out."""

from pathlib import Path

import pytest

from emulator.ota.image import parse_image
from emulator.ota.verify import Status, verify_file
from emulator.samples import samples, write_samples, write_test_pki
from emulator.testpki import load_public_key

IMAGES = Path(__file__).parent.parent / "images"


def test_samples_and_pki_are_reproducible(tmp_path):
    written = write_samples(tmp_path) + write_test_pki(tmp_path / "pki")
    assert {p.relative_to(tmp_path) for p in written} == {
        p.relative_to(IMAGES) for p in IMAGES.rglob("*") if p.is_file()
    }
    for path in written:
        committed = IMAGES / path.relative_to(tmp_path)
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed} is stale: run scripts/make-images and scripts/make-keys"
        )


@pytest.mark.parametrize("sample", samples(), ids=lambda s: s.name)
def test_samples_verify(sample):
    """Each sample checks out as what it is: the Zigbee file on its own checks, the GB files
    read strictly as GB (strict mode never guesses the PPMID form), and a supplier key asked
    for exactly when the file carries a supplier signature (a key asks for one)."""
    key = load_public_key((IMAGES / "pki" / "supplier-a.cert.pem").read_bytes())
    fmt = "gb" if sample.name.startswith("gb-") else "auto"
    ota = parse_image(sample.data, strict=True, format=fmt)
    signed = ota.gb is not None and ota.gb.signature is not None
    report = verify_file(ota, supplier_public_key=key if signed else None)
    assert report.ok, report.reason
    assert all(c.status in (Status.VALID, Status.ABSENT) for c in report.checks)
