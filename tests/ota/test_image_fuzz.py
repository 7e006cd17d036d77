"""Mutation fuzz: damaged files raise the project's error, or parse; nothing else, ever.

3,000 mutated files per run by default; HYPOTHESIS_PROFILE=full runs 20,000.
"""

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.errors import HanemuError, ImageFormatError
from emulator.ota.image import FORMATS, build_gb_image, parse_image
from emulator.ota.verify import check_file, verify_file
from emulator.testing.strategies import mutated, ota_files, wrapped_files
from emulator.testpki import derive_key

FUZZ_EXAMPLES = 20_000 if os.environ.get("HYPOTHESIS_PROFILE") == "full" else 3_000
TV2 = (Path(__file__).parent.parent / "data" / "tv2-ota-static-sample.ota").read_bytes()
KEY = derive_key("supplier-a")


@st.composite
def gb_files(draw) -> bytes:
    return build_gb_image(
        draw(st.binary(max_size=300)),
        manufacturer_id=0x1234,
        image_type=1,
        file_version=draw(st.integers(0, 0xFFFF_FFFF)),
        min_hw=1,
        max_hw=2,
        supplier_key=KEY if draw(st.booleans()) else None,
    )


seeds = st.one_of(
    ota_files(max_payload=200),
    gb_files(),
    wrapped_files().map(lambda case: case[0]),
    st.just(TV2),
)


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated(seeds), st.sampled_from(FORMATS), st.booleans())
def test_mutated_files_raise_only_the_project_error(data, fmt, strict):
    try:
        ota = parse_image(data, format=fmt, strict=strict)
    except ImageFormatError as exc:
        assert exc.field, "every format error names a field"
        assert exc.offset is not None and 0 <= exc.offset <= len(data)
        return
    # Whatever parsed must verify without raising, and hold together.
    verify_file(ota, supplier_public_key=KEY.public_key(), expected_hash=bytes(32))
    assert len(ota.data) == ota.header.image_size
    for element in ota.subelements:
        assert element.value_offset + element.length <= ota.header.image_size


@settings(max_examples=FUZZ_EXAMPLES // 10, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_escape(data):
    try:
        check_file(data)
        parse_image(data)
    except HanemuError:
        pass
