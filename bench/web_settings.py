"""Settings of the bench's web server: the product's own, with the bench's URLs (bench/urls.py)."""

from __future__ import annotations

from nsconnect.settings import *  # noqa: F403 - the product's settings, unchanged but one

ROOT_URLCONF = "bench.urls"
