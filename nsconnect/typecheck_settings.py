"""The settings mypy's Django plugin loads: nsconnect.settings with DEBUG on, so that they
load without the secrets production must have (no type depends on them)."""

from __future__ import annotations

import os

os.environ["DEBUG"] = "true"

from nsconnect.settings import *  # noqa: E402, F403
