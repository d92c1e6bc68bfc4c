"""CI runs the suite on the services production uses, never on a silent fallback."""

from __future__ import annotations

import os

import pytest
from django.db import connection


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="make test alone uses SQLite")
def test_ci_runs_the_suite_on_postgresql():
    assert connection.vendor == "postgresql", "CI must set DATABASE_URL to the local PostgreSQL"
