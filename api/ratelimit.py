"""Per-client rate limit: a fixed one-minute window counted in the client's own row.

Each step is one conditional UPDATE, atomic on PostgreSQL and SQLite alike, so any
number of web processes share one count without a cache server or a lock.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from api.models import ApiClient

WINDOW = timedelta(minutes=1)


def _window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def admit(client: ApiClient, now: datetime | None = None) -> int | None:
    """Count one request for the client. None if it is admitted, else the seconds until it may retry.

    Admitted requests also set the client's `last used`, in the same statement.
    """
    now = now or timezone.now()
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
    return max(1, math.ceil((window + WINDOW - now).total_seconds()))
