"""Writes of the token API: issuing and revoking API clients (audited), and counting their use."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from api import apikeys, ratelimit
from api.models import ApiClient, ApiUsage
from authentications.models import AuditEvent, HttpAuthentication
from authentications.services.audit_trail import Actor, audit, user_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedClient:
    """A new client and its API key, which exists only here: it is shown once and never stored."""

    client: ApiClient
    key: str = field(repr=False)


def _client_details(client: ApiClient) -> dict[str, object]:
    return {
        "api_client": client.name,
        "key_prefix": client.key_prefix,
        "authentications": sorted(client.authentications.values_list("identifier", flat=True)),
    }


@transaction.atomic
@sensitive_variables()
def api_client_create(
    *,
    actor: Actor,
    name: str,
    authentications: Iterable[HttpAuthentication],
    ip_address: str | None = None,
) -> IssuedClient:
    key = apikeys.new_key()
    client = ApiClient(
        name=name,
        key_prefix=apikeys.key_prefix(key),
        key_hash=apikeys.key_hash(key),
        created_by=user_of(actor),
    )
    client.full_clean()
    client.save()
    client.authentications.set(authentications)
    audit(
        action=AuditEvent.Action.API_CLIENT_CREATE,
        authentication=None,
        actor=actor,
        ip_address=ip_address,
        details=_client_details(client),
    )
    return IssuedClient(client=client, key=key)


@transaction.atomic
def api_client_revoke(*, client: ApiClient, actor: Actor, ip_address: str | None = None) -> bool:
    """Revoke the client's key for good. False if it was already revoked (nothing is audited twice)."""
    now = timezone.now()
    # Conditional, so two people pressing Revoke together leave one audit event.
    if not ApiClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(revoked_at=now):
        return False
    client.revoked_at = now
    audit(
        action=AuditEvent.Action.API_CLIENT_REVOKE,
        authentication=None,
        actor=actor,
        ip_address=ip_address,
        details=_client_details(client),
    )
    return True


def api_usage_record(
    *, client: ApiClient, authentication: HttpAuthentication, now: datetime | None = None
) -> None:
    """Count one request of the client for the authentication's token: in the cache when it is
    shared (NSCONNECT_API_COUNT_IN_CACHE), to reach the database at the next flush, else at once."""
    now = now or timezone.now()
    if not settings.NSCONNECT_API_COUNT_IN_CACHE:
        # The rate limit's UPDATE already set the client's last use.
        _usage_add(client.pk, authentication.pk, 1, now, client_too=False)
        return
    UseInCache.of(client, authentication, now).count_in_cache()


@dataclass(frozen=True)
class UseInCache:
    """One use of a client for an authentication's token, as it is counted in the cache: its
    count's key, its last use's key, and its time (whole microseconds, which a cache keeps as
    an integer)."""

    count_key: str
    last_key: str
    timestamp: int

    @classmethod
    def of(cls, client: ApiClient, authentication: HttpAuthentication, now: datetime) -> UseInCache:
        count_key, last_key = _usage_keys(client.pk, authentication.pk)
        return cls(count_key, last_key, round(now.timestamp() * 1_000_000))

    def count_in_cache(self) -> None:
        try:
            cache.incr(self.count_key)
        except ValueError:
            cache.add(self.count_key, 0, timeout=None)
            cache.incr(self.count_key)
        cache.set(self.last_key, self.timestamp, timeout=None)
        api_usage_flush_when_due()


def api_usage_in_cache(
    *, client: ApiClient, authentication: HttpAuthentication, now: datetime | None = None
) -> UseInCache | None:
    """The use to count with the rate limit's own count (ratelimit.admit), when uses are counted
    in the cache; None when they are written to the database (api_usage_record then)."""
    if not settings.NSCONNECT_API_COUNT_IN_CACHE:
        return None
    return UseInCache.of(client, authentication, now or timezone.now())


def api_usage_flush() -> int:
    """Move the uses counted in the cache into the database; returns how many were moved.

    One flush at a time (a lock in the cache), so no count is moved twice. Run by the API
    client list before it reads, and by token requests at most every
    NSCONNECT_API_USAGE_FLUSH_SECONDS."""
    if not settings.NSCONNECT_API_COUNT_IN_CACHE:
        return 0
    ratelimit.push_pending_uses()  # this process's, admitted from its leases
    if not cache.add(_FLUSH_LOCK, 1, timeout=60):
        return 0
    try:
        return _flush()
    finally:
        cache.delete(_FLUSH_LOCK)


_FLUSH_LOCK = "nsconnect:api:usage:flushing"
_FLUSHED_RECENTLY = "nsconnect:api:usage:flushed"
# When this process last looked whether a flush is due (the look itself costs a round trip);
# a new process waits one interval, as if it had just looked.
_last_look = time.monotonic()


def _usage_keys(client_id: int, authentication_id: int) -> tuple[str, str]:
    pair = f"{client_id}:{authentication_id}"
    return f"nsconnect:api:uses:{pair}", f"nsconnect:api:used:{pair}"


def api_usage_flush_when_due() -> None:
    """Flush the uses counted in the cache if this process has not looked for a while."""
    global _last_look
    interval = settings.NSCONNECT_API_USAGE_FLUSH_SECONDS
    now = time.monotonic()
    if now - _last_look < interval:
        return
    _last_look = now
    # One process in the interval flushes for all. Best effort: a request admitted from its
    # process's lease is served while the cache does not answer, and a later one flushes.
    try:
        if interval <= 0 or cache.add(_FLUSHED_RECENTLY, 1, timeout=interval):
            api_usage_flush()
    except (redis.ConnectionError, redis.TimeoutError) as error:
        logger.warning("uses not flushed to the database: the cache did not answer (%s)", error)


def _flush() -> int:
    # Counts exist only for pairs a client may read (or could when it asked), revoked ones too.
    links = ApiClient.authentications.through.objects.all()
    pairs = list(links.values_list("apiclient_id", "httpauthentication_id"))
    keys = {pair: _usage_keys(*pair) for pair in pairs}
    found = cache.get_many([key for count_key, last_key in keys.values() for key in (count_key, last_key)])
    moved = 0
    for pair, (count_key, last_key) in keys.items():
        count = int(found.get(count_key) or 0)
        last = found.get(last_key)
        if count <= 0 or last is None:
            continue
        # Taken out of the cache before written: a crash in between loses counts rather than doubles them.
        cache.decr(count_key, count)
        _usage_add(*pair, count, _used_at(last), client_too=True)
        moved += count
    return moved


def _used_at(last: float | int) -> datetime:
    # Whole microseconds (an integer); seconds (a float) as counted before, still in a cache.
    seconds = last / 1_000_000 if isinstance(last, int) else last
    return datetime.fromtimestamp(seconds, tz=UTC)


def _usage_add(
    client_id: int, authentication_id: int, count: int, last_used_at: datetime, *, client_too: bool
) -> None:
    usage = ApiUsage.objects.filter(client_id=client_id, authentication_id=authentication_id)
    later = Greatest(F("last_used_at"), Value(last_used_at))
    if not usage.update(count=F("count") + count, last_used_at=later):
        try:
            with transaction.atomic():
                ApiUsage.objects.create(
                    client_id=client_id,
                    authentication_id=authentication_id,
                    count=count,
                    last_used_at=last_used_at,
                )
        except IntegrityError:
            # Another process made the row between our update and our insert.
            usage.update(count=F("count") + count, last_used_at=later)
    if not client_too:
        return
    ApiClient.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=last_used_at), pk=client_id
    ).update(last_used_at=last_used_at)
