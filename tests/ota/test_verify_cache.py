"""Verdicts of file checks are cached by content: the SHA-256 of the exact bytes checked plus
everything the verdict depends on. A fleet checks each distinct image once, and no device is
ever given a verdict it would not have computed itself."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.ota import client as oc
from emulator.ota.image import build_gb_image, build_image
from emulator.ota.verify import VERDICTS, VerdictCache, _check_file, check_file
from emulator.testpki import derive_key

SUPPLIER_A = derive_key("supplier-a")
SUPPLIER_B = derive_key("supplier-b")
BODY = random.Random(7).randbytes(600)
GB_IMAGE = build_gb_image(
    BODY,
    manufacturer_id=0x1234,
    image_type=0x0101,
    file_version=2,
    min_hw=1,
    max_hw=1,
    supplier_key=SUPPLIER_A,
)
ZIGBEE_IMAGE = build_image(
    random.Random(8).randbytes(300),
    manufacturer_id=0x1234,
    image_type=0x0101,
    file_version=2,
    integrity=True,
)


def _uncached(data: bytes, **kwargs) -> object:
    args = {
        "format": "auto",
        "strict": False,
        "supplier_public_key": None,
        "expected_hash": None,
        **kwargs,
    }
    return _check_file(data, **args)


def test_the_same_bytes_and_trust_are_checked_once():
    cache = VerdictCache()
    first = check_file(ZIGBEE_IMAGE, cache=cache)
    again = check_file(bytes(bytearray(ZIGBEE_IMAGE)), cache=cache)  # equal bytes, other object
    assert first.ok and again is first
    assert (cache.misses, cache.hits, len(cache)) == (1, 1, 1)


def test_a_device_with_other_trust_gets_its_own_verdict():
    cache = VerdictCache()
    trusted = check_file(GB_IMAGE, supplier_public_key=SUPPLIER_A.public_key(), cache=cache)
    other = check_file(GB_IMAGE, supplier_public_key=SUPPLIER_B.public_key(), cache=cache)
    none = check_file(GB_IMAGE, cache=cache)
    assert trusted.ok and not other.ok
    assert other.reason == "supplier signature: does not verify with the supplier key"
    assert none.ok and none.status_of("supplier signature").value == "not verified"
    assert cache.hits == 0 and len(cache) == 3
    # The other way round: the untrusting device's cached verdict never answers the trusting one.
    cache.clear()
    assert not check_file(GB_IMAGE, supplier_public_key=SUPPLIER_B.public_key(), cache=cache).ok
    assert check_file(GB_IMAGE, supplier_public_key=SUPPLIER_A.public_key(), cache=cache).ok


def test_the_expected_hash_format_and_strictness_are_part_of_the_key():
    cache = VerdictCache()
    key = SUPPLIER_A.public_key()
    right = hashlib.sha256(BODY).digest()
    wrong = hashlib.sha256(b"another image").digest()
    assert check_file(GB_IMAGE, supplier_public_key=key, expected_hash=right, cache=cache).ok
    refused = check_file(GB_IMAGE, supplier_public_key=key, expected_hash=wrong, cache=cache)
    assert not refused.ok and refused.reason.startswith("manufacturer image hash: computed")
    as_zigbee = check_file(GB_IMAGE, format="zigbee", cache=cache)
    assert as_zigbee == _uncached(GB_IMAGE, format="zigbee")
    for strict in (False, True):
        assert check_file(ZIGBEE_IMAGE, strict=strict, cache=cache) == _uncached(
            ZIGBEE_IMAGE, strict=strict
        )
    assert cache.hits == 0


@given(index=st.integers(0, len(ZIGBEE_IMAGE) - 1), flip=st.integers(1, 255))
@settings(max_examples=200, deadline=None)
def test_a_tampered_image_is_never_served_a_cached_valid(index, flip):
    VERDICTS.clear()
    assert check_file(ZIGBEE_IMAGE).ok  # the genuine image's valid verdict is cached
    tampered = bytearray(ZIGBEE_IMAGE)
    tampered[index] ^= flip
    verdict = check_file(bytes(tampered))
    # Its own verdict, never the genuine image's: mostly "integrity code mismatch"; a flip in
    # the element's tag makes it an unknown element (the code then absent), as unchecked.
    assert verdict == _uncached(bytes(tampered))
    assert VERDICTS.hits == 0 and len(VERDICTS) == 2


@given(index=st.integers(0, len(GB_IMAGE) - 1), flip=st.integers(1, 255))
@settings(max_examples=100, deadline=None)
def test_a_tampered_gb_image_is_never_served_a_cached_valid(index, flip):
    VERDICTS.clear()
    key = SUPPLIER_A.public_key()
    assert check_file(GB_IMAGE, supplier_public_key=key).ok
    tampered = bytearray(GB_IMAGE)
    tampered[index] ^= flip
    verdict = check_file(bytes(tampered), supplier_public_key=key)
    assert verdict == _uncached(bytes(tampered), supplier_public_key=key)


def test_a_cached_invalid_verdict_keeps_its_reason():
    cache = VerdictCache()
    tampered = bytearray(ZIGBEE_IMAGE)
    tampered[100] ^= 1
    first = check_file(bytes(tampered), cache=cache)
    second = check_file(bytes(tampered), cache=cache)
    assert (
        not first.ok and second.reason == first.reason == "integrity code: integrity code mismatch"
    )
    assert cache.hits == 1
    unparsable = check_file(b"not an OTA file", cache=cache)
    assert check_file(b"not an OTA file", cache=cache).reason == unparsable.reason
    assert unparsable.reason.startswith("format:")


def test_the_cache_is_bounded_and_drops_the_least_recently_used():
    cache = VerdictCache(max_entries=2)
    images = [
        build_image(bytes([n]) * 40, manufacturer_id=1, image_type=2, file_version=n)
        for n in range(3)
    ]
    check_file(images[0], cache=cache)
    check_file(images[1], cache=cache)
    check_file(images[0], cache=cache)  # used again: image 1 is now the oldest
    check_file(images[2], cache=cache)
    assert len(cache) == 2
    check_file(images[0], cache=cache)
    assert cache.hits == 2
    check_file(images[1], cache=cache)  # dropped: checked again
    assert cache.misses == 4
    with pytest.raises(ValueError):
        VerdictCache(max_entries=0)


def test_keys_that_cannot_name_their_trust_exactly_are_never_cached():
    cache = VerdictCache()
    digest = bytearray(hashlib.sha256(BODY).digest())
    for _ in range(2):
        report = check_file(GB_IMAGE, expected_hash=digest, cache=cache)
        assert report.ok
    assert len(cache) == 0 and cache.hits == 0


def test_devices_share_one_check_of_an_image_through_their_verifier():
    VERDICTS.clear()
    verify = oc.verifier_for(supplier_public_key=SUPPLIER_A.public_key())
    for _ in range(5):  # five devices of one identity, trusting the same supplier
        assert verify(GB_IMAGE) == (True, None)
    assert (VERDICTS.misses, VERDICTS.hits) == (1, 4)
    rogue = oc.verifier_for(supplier_public_key=SUPPLIER_B.public_key())
    assert rogue(GB_IMAGE) == (False, "supplier signature: does not verify with the supplier key")
