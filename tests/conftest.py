"""Shared test configuration: Hypothesis profiles.

HYPOTHESIS_PROFILE=full runs the long campaigns (the mutation fuzz then runs 20,000 files);
CI=true picks the "ci" profile, which keeps the whole suite well inside its time budget and
derandomizes it; "dev" is the default.
"""

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("dev", max_examples=200, **_COMMON)
settings.register_profile("ci", max_examples=100, derandomize=True, **_COMMON)
settings.register_profile("full", max_examples=2000, **_COMMON)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
