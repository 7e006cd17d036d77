"""Security findings: what a run showed about a firmware route's exposure, one sentence each.

A `Finding` is something a stakeholder should see in a report because it says how firmware got
onto (or was kept off) a device: an activation no signature or MAC protected, a rogue node's
command acted on, a tampered Wi-Fi download refused. Each has a `kind` (a stable word tests and
home files' `expect_findings` name), a `Severity` and one plain sentence.

This module owns the vocabulary only; it never decides when something is a finding (the device
and the route that saw it do) and never does I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Severity(enum.StrEnum):
    """How bad a finding is for the security model."""

    INFO = "info"
    """An attack that was refused, or a fact worth knowing (the model held)."""
    LOW = "low"
    MEDIUM = "medium"
    """The model is weakened: firmware moved with less protection than GBCS gives."""
    HIGH = "high"
    """The model broke: someone without authority changed what a device runs."""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    severity: Severity
    sentence: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity.value, "sentence": self.sentence}
