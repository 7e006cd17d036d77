"""Golden reports: the shipped homes and a matrix of `ota simulate` runs say today exactly what
tests/golden/ recorded. A change of behaviour must be recorded on purpose
(`scripts/golden.py record`) and named in its commit, never slip in with a refactor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import golden  # noqa: E402

CASES = golden.cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_report_matches_its_golden(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    recorded = json.loads((golden.GOLDEN_DIR / f"{name}.json").read_text())
    fresh = json.loads(json.dumps(CASES[name](), sort_keys=True))
    assert fresh == recorded
