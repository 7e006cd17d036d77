"""Security verdicts that hold: a supplier signature a device or a check asks for is never
skipped, guessed away or passed when it cannot be verified.

The property test is the issue's acceptance line: a device whose profile requires a supplier
signature never activates an image without a valid signature from one of its slots (unsigned,
stripped, flipped marker, rogue key, the other supplier's key on a one-slot device, a plain
Zigbee file, a truncated signature), and raises 0x8F1C each time, never 0x8F72.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.cli import cli
from emulator.device.campaign import ActivationPlan, manufacturer_image_for, profile_image
from emulator.device.headend import dcc_refusal
from emulator.errors import ConfigError
from emulator.ota.image import build_gb_image, build_image
from emulator.profiles import SupplierSignature, load_all, load_profile
from emulator.scenario import CampaignSpec, Scenario, profile_device, run

SIGNED_TRAILER = 1 + 1 + 64
"""force-replace byte, the 0x40 marker, the 64-byte signature."""
IMAGE_SIZE_OFFSET = 52
"""TotalImageSize in an OTA header without optional fields before it."""
REQUIRING = sorted(
    p.name
    for p in load_all()
    if p.supplier_signature is SupplierSignature.REQUIRED and dcc_refusal(p) is None
)
"""Devices that require a signature and that the DCC offers images to (it refuses the others
before any download: tests/options)."""
PKI = Path(__file__).resolve().parents[2] / "images" / "pki"


def resized(image: bytes, body_end: int) -> bytes:
    """The file cut at `body_end`, its TotalImageSize saying so."""
    cut = bytearray(image[:body_end])
    struct.pack_into("<I", cut, IMAGE_SIZE_OFFSET, len(cut))
    return bytes(cut)


def variant(name: str, kind: str, seed: int) -> bytes:
    """An image for profile `name` that must not be activated by a device requiring a
    signature."""
    profile = load_profile(name)
    z = profile.zigbee
    version = z.firmware_version + 1
    signed = profile_image(profile, size=512, seed=seed)
    if kind == "unsigned":
        return build_gb_image(
            manufacturer_image_for(profile, size=512, seed=seed),
            manufacturer_id=z.manufacturer_id,
            image_type=z.image_type,
            file_version=version,
            min_hw=z.hardware_version,
            max_hw=z.hardware_version,
        )
    if kind == "stripped":
        return resized(signed, len(signed) - SIGNED_TRAILER)
    if kind == "flipped-marker":
        flipped = bytearray(signed)
        flipped[-65] ^= 1 << (seed % 8)
        return bytes(flipped)
    if kind == "rogue":
        return profile_image(profile, size=512, seed=seed, supplier="rogue")
    if kind == "forged":
        return profile_image(profile, size=512, seed=seed, supplier="forged")
    if kind == "other-supplier":
        signer = "B" if profile.supplier_slots == 1 else "rogue"
        return profile_image(profile, size=512, seed=seed, supplier=signer)
    if kind == "plain-zigbee":
        return build_image(
            bytes(range(256)) * 2,
            manufacturer_id=z.manufacturer_id,
            image_type=z.image_type,
            file_version=version,
            integrity=True,
        )
    if kind == "truncated":
        return resized(signed, len(signed) - 1 - seed % 63)
    raise AssertionError(kind)


KINDS = (
    "unsigned",
    "stripped",
    "flipped-marker",
    "rogue",
    "forged",
    "other-supplier",
    "plain-zigbee",
    "truncated",
)


@settings(max_examples=40)
@given(
    name=st.sampled_from(REQUIRING),
    kind=st.sampled_from(KINDS),
    seed=st.integers(0, 1000),
    radio=st.sampled_from(["direct", "zigpy"]),
)
def test_a_device_that_requires_a_signature_never_activates_an_image_without_one(
    name, kind, seed, radio
):
    profile = load_profile(name)
    scenario = Scenario(
        name="signatures",
        devices=(profile_device("device", profile),),
        campaigns=(
            CampaignSpec(("device",), image=variant(name, kind, seed), plan=ActivationPlan()),
        ),
        duration=2 * 86400,
        radio=radio,
        seed=seed,
    )
    (device,) = run(scenario).devices
    assert device.outcome == "rejected", (kind, device.outcome, device.reason)
    assert device.final_file_version == device.start_file_version
    assert device.alerts and set(device.alerts) == {"8F1C"}, (kind, device.alerts)
    assert device.gb["commands"] == []  # no activation is ever asked for after 0x8F1C
    assert device.gb["running_version"] == f"{profile.zigbee.firmware_version:08X}"


def test_the_signed_image_itself_is_activated():
    """The control: the same profile and image, validly signed, does activate."""
    for name in REQUIRING:
        profile = load_profile(name)
        scenario = Scenario(
            name="control",
            devices=(profile_device("device", profile),),
            campaigns=(
                CampaignSpec(
                    ("device",), image=profile_image(profile, size=512), plan=ActivationPlan()
                ),
            ),
        )
        (device,) = run(scenario).devices
        assert device.outcome == "activated", (name, device.reason)
        assert device.alerts == ["8F72", "8F43"]  # received, then running


# -- image verify and image build ---------------------------------------------------------------


def _verify(tmp_path: Path, data: bytes, *extra: str):
    path = tmp_path / "image.ota"
    path.write_bytes(data)
    return CliRunner().invoke(cli, ["image", "verify", str(path), *extra])


@pytest.mark.parametrize("kind", ["stripped", "flipped-marker", "unsigned", "plain-zigbee"])
@pytest.mark.parametrize("how", ["--supplier-cert", "--supplier-key"])
def test_verify_with_a_supplier_key_refuses_a_file_without_a_signature(tmp_path, kind, how):
    key = PKI / ("supplier-a.cert.pem" if how == "--supplier-cert" else "supplier-a.key.pem")
    assert key.is_file()
    result = _verify(tmp_path, variant("ihd-opt1", kind, 3), how, str(key))
    assert result.exit_code == 1, result.output
    assert "supplier signature: absent: a supplier key was given" in result.stderr
    assert not result.stdout.strip().endswith(": OK")


def test_verify_with_the_right_key_accepts_the_signed_image(tmp_path):
    image = profile_image(load_profile("ihd-opt1"), size=512)
    result = _verify(tmp_path, image, "--supplier-cert", str(PKI / "supplier-a.cert.pem"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(": OK")


def test_strict_never_guesses_the_ppmid_form(tmp_path):
    unsigned = variant("ihd-opt1", "unsigned", 3)
    guessed = _verify(tmp_path, unsigned, "--strict")
    assert guessed.exit_code == 2
    told = _verify(tmp_path, unsigned, "--strict", "--format", "gb")
    assert told.exit_code == 0


@pytest.mark.parametrize("damage", ["subelement-length", "trailing-bytes"])
def test_strict_refuses_a_damaged_zigbee_file(tmp_path, damage):
    """With hardware versions in the header, a Zigbee file whose tag walk no longer fits used to
    be read as a GB image in the PPMID form, and --strict said OK."""
    good = build_image(
        b"x" * 300, manufacturer_id=1, image_type=2, file_version=3, min_hw=1, max_hw=1
    )
    header_length = struct.unpack_from("<H", good, 6)[0]
    if damage == "trailing-bytes":
        bad = resized(good + b"\0" * 7, len(good) + 7)
    else:
        bad = bytearray(good)
        struct.pack_into("<I", bad, header_length + 2, 299)  # first element one byte short
        bad = bytes(bad)
    lenient = _verify(tmp_path, bad)
    assert "PPMID form" in lenient.stdout  # the guess, named as such
    strict = _verify(tmp_path, bad, "--strict")
    assert strict.exit_code == 2, strict.output
    assert strict.stderr.startswith("error: ") and len(strict.stderr.splitlines()) == 1


def test_build_refuses_an_empty_hardware_range(tmp_path):
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"firmware")
    result = CliRunner().invoke(
        cli,
        [
            "image", "build", "-o", str(tmp_path / "x.ota"), "--manufacturer-id", "1",
            "--image-type", "2", "--file-version", "3", "--payload", str(payload),
            "--min-hw", "0x200", "--max-hw", "0x100",
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "minimum hardware version 0x0200 is above the maximum 0x0100" in result.stderr
    assert not (tmp_path / "x.ota").exists()


def test_strict_refuses_an_empty_hardware_range_in_a_file(tmp_path):
    image = bytearray(profile_image(load_profile("ihd-opt1"), size=512))
    struct.pack_into("<HH", image, 56, 0x0200, 0x0100)  # min, max hardware versions
    result = _verify(tmp_path, bytes(image), "--strict")
    assert result.exit_code == 2
    assert "hardware version range is empty" in result.stderr


def test_a_profile_cannot_hold_slots_without_requiring_a_signature(tmp_path):
    text = Path(load_profile("hcalcs-opt1").source).read_text()
    bad = text.replace('supplier_signature = "required"', 'supplier_signature = "none"')
    assert bad != text
    (tmp_path / "hcalcs-opt1.toml").write_text(bad)
    (tmp_path / "hcalcs.toml").write_text(Path(load_profile("hcalcs").source).read_text())
    with pytest.raises(ConfigError, match="key supplier_signature: a device with supplier slots"):
        load_profile("hcalcs-opt1", tmp_path)
