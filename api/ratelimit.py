"""Per-client rate limit: a fixed one-minute window, shared by every web process.

With a shared cache (NSCONNECT_API_COUNT_IN_CACHE) the window is one atomic counter
there, and a request writes nothing to the database. Without one it is counted in the
client's own row, each step one conditional UPDATE, atomic on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta
from typing import Any, Protocol

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


def admit(client: ApiClient, now: datetime | None = None, *, use: Use | None = None) -> int | None:
    """Count one request for the client. None if it is admitted, else the seconds until it may retry.

    With `use` (services.api_usage_in_cache), an admitted request's use is counted too, in the
    same round trip when the shared cache is Redis; the caller then records nothing more."""
    now = now or timezone.now()
    if settings.NSCONNECT_API_COUNT_IN_CACHE:
        redis_client = _redis()
        if redis_client is not None:
            return _admit_in_redis(redis_client, client, now, use)
        retry_after = _admit_in_cache(client, now)
        if retry_after is None and use is not None:
            use.count_in_cache()
        return retry_after
    return _admit_in_database(client, now)


class Use(Protocol):
    """A use to count with an admitted request: its keys in the cache and its time."""

    @property
    def count_key(self) -> str: ...

    @property
    def last_key(self) -> str: ...

    @property
    def timestamp(self) -> int: ...

    def count_in_cache(self) -> None: ...


# One round trip for a request: its place in the window and, if admitted, its use. A script
# runs whole, so a refused request counts no use.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if count <= tonumber(ARGV[2]) and #KEYS == 3 then
  redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[3], ARGV[3])
end
return count
"""


def _redis() -> Any:
    """The counting script on a client kept for the process, when the shared cache is Django's
    Redis cache (which makes a client per call, and asks twice per increment); else None."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    location = config["LOCATION"]
    # Django's Redis cache writes to the first server listed.
    first = location[0] if isinstance(location, list | tuple) else location.split(",")[0]
    return _script_on(first.strip())


@functools.cache
def _script_on(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url).register_script(_COUNT)


def _admit_in_redis(script: Any, client: ApiClient, now: datetime, use: Use | None) -> int | None:
    window = _window_start(now)
    keys = [cache.make_key(_window_key(client, window))]
    args: list[object] = [int(2 * WINDOW.total_seconds()), settings.NSCONNECT_API_RATE_LIMIT]
    if use is not None:
        keys += [cache.make_key(use.count_key), cache.make_key(use.last_key)]
        args.append(use.timestamp)
    if int(script(keys=keys, args=args)) <= settings.NSCONNECT_API_RATE_LIMIT:
        return None
    return _retry_after(window, now)


def _window_key(client: ApiClient, window: datetime) -> str:
    return f"nsconnect:api:rate:{client.pk}:{int(window.timestamp())}"


def _admit_in_cache(client: ApiClient, now: datetime) -> int | None:
    window = _window_start(now)
    key = _window_key(client, window)
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
