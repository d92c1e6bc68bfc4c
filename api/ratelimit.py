"""Per-client rate limit: a fixed one-minute window, shared by every web process.

With a shared cache (NSCONNECT_API_COUNT_IN_CACHE) the window is one atomic counter
there, and a request writes nothing to the database. Without one it is counted in the
client's own row, each step one conditional UPDATE, atomic on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Q
from django.utils import timezone

from api.models import ApiClient

WINDOW = timedelta(minutes=1)


def _window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def _retry_after(window: datetime, now: datetime) -> int:
    return max(1, math.ceil((window + WINDOW - now).total_seconds()))


def admit(client: ApiClient, now: datetime | None = None) -> int | None:
    """Count one request for the client. None if it is admitted, else the seconds until it may retry."""
    now = now or timezone.now()
    if settings.NSCONNECT_API_COUNT_IN_CACHE:
        return _admit_in_cache(client, now)
    return _admit_in_database(client, now)


def _admit_in_cache(client: ApiClient, now: datetime) -> int | None:
    window = _window_start(now)
    key = f"nsconnect:api:rate:{client.pk}:{int(window.timestamp())}"
    try:
        count = cache.incr(key)
    except ValueError:
        # The first request of the minute opens its counter; add() lets one of several racing do it.
        cache.add(key, 0, timeout=int(2 * WINDOW.total_seconds()))
        count = cache.incr(key)
    if count <= settings.NSCONNECT_API_RATE_LIMIT:
        return None
    return _retry_after(window, now)


def _admit_in_database(client: ApiClient, now: datetime) -> int | None:
    """Admitted requests also set the client's `last used`, in the same statement."""
    window = _window_start(now)
    limit = settings.NSCONNECT_API_RATE_LIMIT
    rows = ApiClient.objects.filter(pk=client.pk)
    # ">=" rather than "=": a machine whose clock lags a little counts into the window
    # a faster one already opened instead of being refused until it catches up.
    in_window = rows.filter(window_started_at__gte=window, window_count__lt=limit)
    if in_window.update(window_count=F("window_count") + 1, last_used_at=now):
        return None
    # A new minute: whoever moves the window first counts itself as its first request.
    older = Q(window_started_at__isnull=True) | Q(window_started_at__lt=window)
    if limit > 0 and rows.filter(older).update(window_started_at=window, window_count=1, last_used_at=now):
        return None
    # Another process opened this minute between our two updates: take a place in it if one is left.
    if in_window.update(window_count=F("window_count") + 1, last_used_at=now):
        return None
    return _retry_after(window, now)
