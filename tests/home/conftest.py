"""Helpers for home tests: write a home file from TOML text."""

from __future__ import annotations

import textwrap

import pytest

DEVICE_BLOCKS = {
    "ihd": 'name = "ihd"\nprofile = "ihd-opt1"\nroute = "dcc"',
    "ppmid": 'name = "ppmid"\nprofile = "ppmid-ch-managed"\nroute = "dcc"',
    "ppmid-opt1": 'name = "ppmid"\nprofile = "ppmid-opt1"\nroute = "dcc"',
    "hcalcs": 'name = "hcalcs"\nprofile = "hcalcs-opt1"\nroute = "dcc"',
    "cad": 'name = "cad"\nprofile = "cad"\nroute = "wifi"',
}


@pytest.fixture
def home_file(tmp_path):
    """`home_file(text)` writes a home file and returns its path."""

    def write(text: str, name: str = "home.toml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
