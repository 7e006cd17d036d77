"""Wi-Fi manifests: canonical bytes, signatures, strict decoding of hostile bytes, and the one
verdict a device gives on a manifest and its image (every refusal, and its order)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import ManifestError
from emulator.ota.image import build_image
from emulator.testpki import derive_key
from emulator.wifi import manifest as m

RUNNING = 0x0123ABCD
IMAGE = build_image(
    b"new firmware" * 40, manufacturer_id=0x1234, image_type=0x0101, file_version=RUNNING + 1
)
SUPPLIER = derive_key("supplier-a", 0)
ROGUE = derive_key("rogue", 0)
DEVICE = m.Recipient(
    device_type="IHD",
    manufacturer_id=0x1234,
    image_type=0x0101,
    running_version=RUNNING,
    storage_size=524288,
    trusted={"supplier-a": SUPPLIER.public_key()},
)


def manifest(**changes) -> m.Manifest:
    base = m.Manifest(
        device_type="IHD",
        manufacturer_id=0x1234,
        image_type=0x0101,
        file_version=RUNNING + 1,
        url="http://127.0.0.1:8080/images/ihd.ota",
        size=len(IMAGE),
        sha256=hashlib.sha256(IMAGE).digest(),
    )
    return dataclasses.replace(base, **changes)


SIGNED = manifest().signed("supplier-a", SUPPLIER)


def test_a_signed_manifest_round_trips_as_canonical_json():
    data = SIGNED.to_bytes()
    assert m.decode(data) == SIGNED
    assert data == json.dumps(json.loads(data), sort_keys=True, separators=(",", ":")).encode()
    assert SIGNED.signature_valid(SUPPLIER.public_key())
    assert not SIGNED.signature_valid(ROGUE.public_key())
    assert manifest().signed("supplier-a", SUPPLIER) == SIGNED  # deterministic ECDSA


def test_the_genuine_manifest_and_image_pass():
    before = m.check(SIGNED.to_bytes(), DEVICE)
    after = m.check(SIGNED.to_bytes(), DEVICE, IMAGE)
    assert before.ok and after.ok and after.manifest == SIGNED


def _tampered(image: bytes) -> bytes:
    return image[:-1] + bytes([image[-1] ^ 1])


REFUSED = {
    "unsigned-manifest": (manifest(), IMAGE),
    "untrusted-signer": (manifest().signed("rogue", ROGUE), IMAGE),
    "bad-signature": (manifest().signed("supplier-a", ROGUE), IMAGE),
    "wrong-device": (manifest(image_type=0x0102).signed("supplier-a", SUPPLIER), IMAGE),
    "downgrade": (manifest(file_version=RUNNING).signed("supplier-a", SUPPLIER), IMAGE),
    "too-big": (manifest(size=524289).signed("supplier-a", SUPPLIER), IMAGE),
    "size-mismatch": (SIGNED, IMAGE[:-1]),
    "tampered-image": (SIGNED, _tampered(IMAGE)),
}


@pytest.mark.parametrize("kind", REFUSED)
def test_each_refusal_names_its_kind(kind):
    doc, image = REFUSED[kind]
    verdict = m.check(doc.to_bytes(), DEVICE, image)
    assert verdict.kind == kind and not verdict.ok
    assert kind in m.REFUSALS


def test_another_device_type_is_refused_even_with_the_same_image_type():
    doc = manifest(device_type="PPMID").signed("supplier-a", SUPPLIER)
    assert m.check(doc.to_bytes(), DEVICE).kind == "wrong-device"


def test_an_image_whose_header_contradicts_the_signed_manifest_is_refused():
    older = build_image(b"x" * 100, manufacturer_id=0x1234, image_type=0x0101, file_version=RUNNING)
    doc = manifest(size=len(older), sha256=hashlib.sha256(older).digest()).signed(
        "supplier-a", SUPPLIER
    )
    assert m.check(doc.to_bytes(), DEVICE, older).kind == "downgrade"
    garbage = b"\x00" * 64
    doc = manifest(size=64, sha256=hashlib.sha256(garbage).digest()).signed("supplier-a", SUPPLIER)
    assert m.check(doc.to_bytes(), DEVICE, garbage).kind == "invalid-image"


def test_a_changed_field_breaks_the_signature():
    data = json.loads(SIGNED.to_bytes())
    data["file_version"] += 1
    verdict = m.check(json.dumps(data).encode(), DEVICE, IMAGE)
    assert verdict.kind == "bad-signature"


HOSTILE = {
    "too large": b" " * (m.MAX_MANIFEST_BYTES + 1),
    "not UTF-8": b'{"a": "\xff"}',
    "UTF-16": SIGNED.to_bytes().decode().encode("utf-16"),
    "deep nesting": b"[" * 10000 + b"]" * 10000,
    "an array": b"[]",
    "NaN": SIGNED.to_bytes().replace(b'"size":', b'"size":NaN,"x":'),
    "duplicate key": SIGNED.to_bytes()[:-1] + b',"size":1}',
    "huge integer": SIGNED.to_bytes().replace(b'"size":', b'"size":' + b"9" * 5000 + b',"y":'),
    "missing field": json.dumps({"device_type": "IHD"}).encode(),
    "unknown field": SIGNED.to_bytes()[:-1] + b',"extra\\ud800":1}',
    "bool for an integer": SIGNED.to_bytes().replace(b'"image_type":257', b'"image_type":true'),
    "short signature": SIGNED.to_bytes().replace(SIGNED.signature.hex().encode(), b"abcd"),
    "not a URL": SIGNED.to_bytes().replace(b'"http://', b'"file://'),
    "zero size": SIGNED.to_bytes().replace(f'"size":{len(IMAGE)}'.encode(), b'"size":0'),
    "unknown device type": SIGNED.to_bytes().replace(b'"IHD"', b'"TV"'),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_bytes_give_one_project_error(name):
    with pytest.raises(ManifestError) as caught:
        m.decode(HOSTILE[name])
    text = str(caught.value)
    assert "\n" not in text and text.isascii()
    assert m.check(HOSTILE[name], DEVICE).kind == "malformed-manifest"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_decode_or_give_a_project_error(data):
    with contextlib.suppress(ManifestError):  # nothing else may escape
        m.decode(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_mutated_signed_manifest_passes_only_when_it_says_the_same(data):
    raw = bytearray(SIGNED.to_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    verdict = m.check(bytes(raw), DEVICE, IMAGE)
    if verdict.ok:
        assert verdict.manifest == SIGNED
    else:
        assert verdict.kind in m.REFUSALS


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=10)
        ),
        max_leaves=30,
    )
)
def test_any_json_value_decodes_or_gives_a_project_error(value):
    try:
        data = json.dumps(value).encode()
    except ValueError:
        return
    with contextlib.suppress(ManifestError):  # nothing else may escape
        m.decode(data)
