"""Per-client rate limit: a fixed one-minute window, shared by every web process.

With a shared cache (NSCONNECT_API_COUNT_IN_CACHE) the window is one atomic counter
there, and a request writes nothing to the database. Without one it is counted in the
client's own row, each step one conditional UPDATE, atomic on PostgreSQL and SQLite alike.

On Redis a web process takes a client's places in the window a lease at a time (a 64th of
the limit, at most LEASE_MOST), and counts the uses of the requests it admits from a lease
here, to send with its next round trip (or within PENDING_USES_SECONDS): one round trip serves
a lease's worth of requests, where it served one (a third of a token request's CPU here). The
limit is still never exceeded, since a lease takes its places from the shared count; a place
leased to a process that then goes unasked is lost with its minute, so a client at its limit
may be refused up to a lease's worth of requests early per other process.
"""

from __future__ import annotations

import atexit
import functools
import logging
import math
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Q
from django.utils import timezone

from api.models import ApiClient

logger = logging.getLogger(__name__)
WINDOW = timedelta(minutes=1)
LEASE_MOST = 16
# Uses admitted from a lease reach Redis at most this late when no round trip takes them.
PENDING_USES_SECONDS = 1.0


def _window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def _retry_after(window: datetime, now: datetime) -> int:
    return max(1, math.ceil((window + WINDOW - now).total_seconds()))


def admit(client: ApiClient, now: datetime | None = None, *, use: Use | None = None) -> int | None:
    """Count one request for the client. None if it is admitted, else the seconds until it may retry.

    With `use` (services.api_usage_in_cache), an admitted request's use is counted too, in the
    same round trip when the shared cache is Redis (or, admitted from this process's lease,
    with its next one); the caller then records nothing more."""
    now = now or timezone.now()
    if settings.NSCONNECT_API_COUNT_IN_CACHE:
        url = _redis()
        if url is not None:
            return _admit_in_redis(url, client, now, use)
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


# Counts uses: KEYS from index k in pairs (count, last use), ARGV from index a in pairs (how
# many, when); a last use only moves forward. Then a batch (a script's run) is applied once:
# KEYS[1] keeps its answer for a minute, so that a run redis-py sends again after losing the
# reply (it retries) repeats the answer, not the counting.
_ONCE = """
local function add_uses(k, a)
  while k < #KEYS do
    redis.call('INCRBY', KEYS[k], ARGV[a])
    if tonumber(ARGV[a + 1]) > tonumber(redis.call('GET', KEYS[k + 1]) or 0) then
      redis.call('SET', KEYS[k + 1], ARGV[a + 1])
    end
    k = k + 2
    a = a + 2
  end
end
local done = redis.call('GET', KEYS[1])
if done then return tonumber(done) end
"""

# One round trip for a lease: its places in the window KEYS[2] (ARGV[3] wanted, fewer if fewer
# are left, none past the limit ARGV[2]), and the uses to count, the asking request's first if
# ARGV[4] is 1 (counted only if admitted). A script runs whole. Returns the places leased.
_LEASE = f"""{_ONCE}
local wanted = tonumber(ARGV[3])
local count = redis.call('INCRBY', KEYS[2], wanted)
if count == wanted then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
local leased = math.max(0, math.min(wanted, tonumber(ARGV[2]) - (count - wanted)))
if ARGV[4] == '1' and leased == 0 then add_uses(5, 7) else add_uses(3, 5) end
redis.call('SET', KEYS[1], leased, 'EX', 60)
return leased
"""

# Uses alone, sent when no lease has taken them for PENDING_USES_SECONDS.
_USES = f"""{_ONCE}
add_uses(2, 1)
redis.call('SET', KEYS[1], 0, 'EX', 60)
return 0
"""


class CountUnavailable(Exception):
    """Redis, which counts the requests, did not answer: the request can be neither admitted
    nor refused."""


@dataclass
class _Lease:
    """This process's places in a client's window: how many are left, and whether the window
    has no more to lease (then a request past them is refused here, with no round trip)."""

    left: int
    spent: bool


# This minute's leases, by the window's key in the cache (its prefix, the client, the minute).
_LEASES: dict[str, _Lease] = {}
_leases_minute = 0
# Uses admitted from a lease, not yet in Redis: (count key, last key) -> [how many, last use].
_PENDING: dict[tuple[str, str], list[int]] = {}
_pending_push: threading.Timer | None = None
_LOCK = threading.Lock()


def lease_size(limit: int) -> int:
    return max(1, min(LEASE_MOST, limit // 64))


def _redis() -> str | None:
    """The Redis server that counts (a client and its scripts are kept for the process: Django's
    Redis cache makes a client per call, and asks twice per increment), when the shared cache
    is Django's Redis cache; else None."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    location = config["LOCATION"]
    # Django's Redis cache writes to the first server listed.
    first = location[0] if isinstance(location, list | tuple) else location.split(",")[0]
    return str(first.strip())


@functools.cache
def _scripts_on(url: str) -> tuple[Any, Any]:
    server = redis.Redis.from_url(url)
    return server.register_script(_LEASE), server.register_script(_USES)


def _admit_in_redis(url: str, client: ApiClient, now: datetime, use: Use | None) -> int | None:
    window = _window_start(now)
    window_key = cache.make_key(_window_key(client, window))
    own = _use_keys(use)
    with _LOCK:
        _forget_other_minutes(window)
        lease = _LEASES.get(window_key)
        if lease is not None and lease.left > 0:
            lease.left -= 1
            if own is not None:
                _pend(own)
            return None
        if lease is not None and lease.spent:
            return _retry_after(window, now)
        pending = _take_pending()
    limit = settings.NSCONNECT_API_RATE_LIMIT
    wanted = lease_size(limit)
    use_keys, use_args = _flattened(([own] if own is not None else []) + pending)
    keys = [_batch_key(), window_key, *use_keys]
    args = [int(2 * WINDOW.total_seconds()), limit, wanted, int(own is not None), *use_args]
    try:
        leased = int(_scripts_on(url)[0](keys=keys, args=args))
    except (redis.ConnectionError, redis.TimeoutError) as error:
        # Not answering; a refusal it answers with (a Lua error, OOM) stays an error to look into.
        _lost(pending)
        raise CountUnavailable(str(error)) from error
    except BaseException:
        _lost(pending)
        raise
    with _LOCK:
        lease = _LEASES.setdefault(window_key, _Lease(left=0, spent=False))
        # Added to, not replaced: another thread of this process may have leased meanwhile.
        lease.left += max(0, leased - 1)
        lease.spent = lease.spent or leased < wanted
    return None if leased > 0 else _retry_after(window, now)


def _flattened(uses: list[tuple[str, str, int, int]]) -> tuple[list[str], list[int]]:
    """Uses as the scripts take them: their keys in pairs (count, last use), and their values
    in pairs (how many, when)."""
    keys = [key for (count_key, last_key, _, _) in uses for key in (count_key, last_key)]
    values = [value for (_, _, count, last) in uses for value in (count, last)]
    return keys, values


def _batch_key() -> str:
    return str(cache.make_key(f"nsconnect:api:batch:{uuid.uuid4().hex}"))


def _lost(pending: list[tuple[str, str, int, int]]) -> None:
    """Uses whose script may or may not have run are dropped: counted twice would be worse than
    not at all (a lost reply), as in the flush."""
    if pending:
        logger.warning("%d uses of the token API were not counted: Redis did not answer", len(pending))


def _use_keys(use: Use | None) -> tuple[str, str, int, int] | None:
    if use is None:
        return None
    return cache.make_key(use.count_key), cache.make_key(use.last_key), 1, use.timestamp


def _forget_other_minutes(window: datetime) -> None:
    global _leases_minute
    minute = int(window.timestamp())
    # Forward only: a thread that read the clock before the minute turned keeps the new
    # minute's leases (its own goes under its minute's key, unused after).
    if minute > _leases_minute:
        _LEASES.clear()
        _leases_minute = minute


def _pend(use: tuple[str, str, int, int]) -> None:
    global _pending_push
    count_key, last_key, count, last = use
    entry = _PENDING.setdefault((count_key, last_key), [0, 0])
    entry[0] += count
    entry[1] = max(entry[1], last)
    if _pending_push is None:
        _pending_push = threading.Timer(PENDING_USES_SECONDS, push_pending_uses)
        _pending_push.daemon = True
        _pending_push.start()


def _take_pending() -> list[tuple[str, str, int, int]]:
    global _pending_push
    taken = [(count_key, last_key, count, last) for (count_key, last_key), (count, last) in _PENDING.items()]
    _PENDING.clear()
    if _pending_push is not None:
        _pending_push.cancel()
        _pending_push = None
    return taken


def push_pending_uses() -> None:
    """Send this process's uses admitted from leases to Redis (services.api_usage_flush does
    before it reads; a timer does PENDING_USES_SECONDS after the first; so does the exit)."""
    url = _redis()
    with _LOCK:
        pending = _take_pending()
    if not pending or url is None:
        return
    use_keys, use_args = _flattened(pending)
    try:
        _scripts_on(url)[1](keys=[_batch_key(), *use_keys], args=use_args)
    except Exception:  # a timer thread has nobody to raise to
        _lost(pending)


atexit.register(push_pending_uses)


def forget_leases() -> None:
    """Drop this process's leases and pending uses (tests: each test's cache is its own)."""
    with _LOCK:
        _LEASES.clear()
        _take_pending()


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
