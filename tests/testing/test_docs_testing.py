"""docs/testing.md stays true: each of its ```python blocks is a test file, run under pytest in a
fresh project (a subprocess, the plugin loaded through its entry point, as a user's suite loads
it), and every fixture the plugin offers is shown in one of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
FIXTURES = (
    "hanemu_seed",
    "virtual_clock",
    "ota_image_factory",
    "ota_server",
    "emulated_device",
    "emulated_home",
)


def examples() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)


def test_every_fixture_has_an_example() -> None:
    for fixture in FIXTURES:
        shown = [code for code in examples() if re.search(rf"def test_\w+\(.*\b{fixture}\b", code)]
        assert shown, f"docs/testing.md has no example using {fixture}"


def test_the_examples_pass(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    codes = examples()
    pytester.makepyfile(**{f"test_example_{i}": code for i, code in enumerate(codes)})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    tests = sum(len(re.findall(r"^def test_", code, re.M)) for code in codes)
    assert tests >= len(FIXTURES)
    result.assert_outcomes(passed=tests)
