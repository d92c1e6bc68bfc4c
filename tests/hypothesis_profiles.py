"""Hypothesis settings for the property tests, imported by them (not by conftest.py).

"dev" explores afresh on every run; "ci" (chosen when CI is set, as .ci/run does) uses a fixed
seed, so a CI run is repeatable and never fails on an example no one can reproduce. Neither keeps
an example database: failures print the example and a `@reproduce_failure` blob instead.
NSCONNECT_HYPOTHESIS_PROFILE picks one by name (e.g. "thorough" for a long local hunt).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "base",
    deadline=None,  # the first RSA check of a run is slow: no per-example deadline
    database=None,
    print_blob=True,
    # Tests that take pytest fixtures build nothing per example from them (keys are made once).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
base = settings.get_profile("base")
settings.register_profile("dev", base, max_examples=200)
settings.register_profile("ci", base, max_examples=200, derandomize=True)
settings.register_profile("thorough", base, max_examples=5000)

settings.load_profile(
    os.environ.get("NSCONNECT_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
