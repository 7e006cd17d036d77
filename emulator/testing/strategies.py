"""Hypothesis strategies for fuzzing OTA file readers: hanemu's own and anybody else's.

Owns: generators of valid OTA files of every header variant and tag mix, the vendor containers
real files arrive in (IKEA `NGIS`, Legrand, Third Reality), and mutations of any file (truncation,
bit flips, bogus lengths, nested wrappers). Builds only through emulator.ota.image, so what these
strategies produce is what hanemu itself would write.
"""

from __future__ import annotations

import hashlib

from hypothesis import strategies as st

from emulator.ota.image import (
    HEADER_STRING_LENGTH,
    IKEA_CONTAINER,
    LEGRAND_PREFIX_LENGTH,
    LEGRAND_SUFFIX_LENGTH,
    THIRD_REALITY_HASHED_FROM,
    THIRD_REALITY_HEADER_LENGTH,
    THIRD_REALITY_LENGTH_OFFSET,
    build_image,
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)

# Standard tags (the upgrade image is always first; the integrity code is built last when asked
# for) and manufacturer-specific ones.
extra_tags = st.one_of(
    st.sampled_from([0x0001, 0x0002, 0x0004, 0x0005, 0x0006]), st.integers(0xF001, 0xFFFF)
)


@st.composite
def ota_files(draw, *, max_payload: int = 512, integrity: bool | None = None) -> bytes:
    """A valid standard OTA file: any field-control combination and a random tag mix."""
    with_hw = draw(st.booleans())
    min_hw = draw(u16) if with_hw else None
    text = draw(st.text(max_size=8).filter(lambda s: len(s.encode()) <= HEADER_STRING_LENGTH))
    return build_image(
        draw(st.binary(max_size=max_payload)),
        manufacturer_id=draw(u16),
        image_type=draw(u16),
        file_version=draw(u32),
        header_string=text,
        stack_version=draw(u16),
        min_hw=min_hw,
        max_hw=draw(st.integers(min_hw, 0xFFFF)) if with_hw else None,
        destination=draw(st.none() | u64),
        security_credential_version=draw(st.none() | u8),
        tags=draw(st.lists(st.tuples(extra_tags, st.binary(max_size=64)), max_size=4)),
        integrity=draw(st.booleans()) if integrity is None else integrity,
    )


def wrap_ikea(data: bytes, *, offset: int = IKEA_CONTAINER.sizeof()) -> bytes:
    """An IKEA `NGIS` container holding `data` at `offset`."""
    head = IKEA_CONTAINER.build({"image_offset": offset, "image_length": len(data)})
    return head + bytes(offset - len(head)) + data + b"\x00"


def wrap_legrand(data: bytes) -> bytes:
    """A Legrand container: 4-byte size prefix, 1 + 16 byte suffix."""
    return len(data).to_bytes(LEGRAND_PREFIX_LENGTH, "little") + data + bytes(LEGRAND_SUFFIX_LENGTH)


def wrap_third_reality(data: bytes) -> bytes:
    """A Third Reality container: 152-byte header starting with SHA-512 of all after byte 64."""
    rest = bytearray(THIRD_REALITY_HEADER_LENGTH - THIRD_REALITY_HASHED_FROM) + data
    total = THIRD_REALITY_HEADER_LENGTH + len(data)
    start = THIRD_REALITY_LENGTH_OFFSET - THIRD_REALITY_HASHED_FROM
    rest[start : start + 4] = (total - THIRD_REALITY_HASHED_FROM).to_bytes(4, "little")
    return hashlib.sha512(rest).digest() + bytes(rest)


WRAPPERS = {"ikea": wrap_ikea, "legrand": wrap_legrand, "third-reality": wrap_third_reality}


@st.composite
def wrapped_files(draw, *, max_depth: int = 2) -> tuple[bytes, tuple[str, ...]]:
    """A valid OTA file inside 0..max_depth vendor containers, with the container names."""
    data = draw(ota_files(max_payload=256))
    names = draw(st.lists(st.sampled_from(sorted(WRAPPERS)), max_size=max_depth))
    for name in reversed(names):
        data = WRAPPERS[name](data)
    return data, tuple(names)


@st.composite
def mutated(draw, base: st.SearchStrategy[bytes]) -> bytes:
    """`base` after one to four mutations: truncation, bit flips, bogus lengths, re-wrapping."""
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "length", "wrap", "splice"]))
        if kind == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif kind == "flip" and data:
            index = draw(st.integers(0, len(data) - 1))
            data[index] ^= 1 << draw(st.integers(0, 7))
        elif kind == "length" and len(data) >= 4:
            # Overwrite a 16- or 32-bit little-endian field with a boundary value.
            width = draw(st.sampled_from([2, 4]))
            index = draw(st.integers(0, len(data) - width))
            value = draw(st.sampled_from([0, 1, 55, 56, 69, 70, len(data), 0xFFFF, 0xFFFF_FFFF]))
            data[index : index + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
        elif kind == "wrap":
            data = bytearray(WRAPPERS[draw(st.sampled_from(sorted(WRAPPERS)))](bytes(data)))
        elif kind == "splice":
            index = draw(st.integers(0, len(data)))
            data[index:index] = draw(st.binary(max_size=16))
    return bytes(data)
