"""Single flight: however many threads, processes or machines want a token at once,
one of them asks NetSuite and the others wait for its answer.

The lease is a conditional UPDATE on the authentication's row (owner and expiry),
which works the same on PostgreSQL and SQLite. It is claimed and compared with the
database's clock, the one clock every machine shares; it outlives the exchange's
total deadline, so a live holder never loses it, and it expires, so a crashed holder
never keeps it.

Within one process, threads asking the same question at once join the first one's flight
and share its answer, asking the database nothing: fifty threads waiting each with their
own statements would delay the one that asks NetSuite. Across processes, waiters are woken
when the holder releases the lease, rather than polling: on PostgreSQL by NOTIFY (each
waiter LISTENs on its own connection), threads of the holder's process by a condition. A
slow look remains, for a holder that died holding the lease and for processes sharing
SQLite, which has no NOTIFY.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Q, Value
from django.db.models.fields import DurationField
from django.db.models.functions import Now
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from authentications import selectors
from authentications.fields import DecryptionError
from authentications.models import AccessToken, HttpAuthentication
from authentications.netsuite import http_exchange, token_urls
from authentications.services import token_attempt
from authentications.services.audit_trail import Actor

# What token_get raises: its callers (pages, commands) catch it by this name, not from netsuite/.
TokenRequestError = http_exchange.TokenRequestError

logger = logging.getLogger(__name__)

# The longest a waiter sleeps between two looks when nothing wakes it.
POLL_SECONDS = 0.5
# Beyond the exchange's own deadline: loading the key, signing, storing the token.
LEASE_MARGIN_SECONDS = 10
# While another caller holds the lease, a consumer is served a token with this many seconds
# left rather than made to wait: the holder may have died, and its lease outlives it.
STILL_VALID_SECONDS = 10


DISABLED = "This authentication is disabled: enable it on the edit page to retrieve tokens."


class TokenUnavailable(Exception):
    """No token can be had now; the message says why, in words for an API consumer."""


class DatabaseUnavailable(Exception):
    """The database failed a scheduled refresh before it finished; the task tries again."""


def lease_duration() -> timedelta:
    """How long a lease holds: longer than any exchange with NetSuite can take."""
    return timedelta(seconds=http_exchange.exchange_deadline_seconds() + LEASE_MARGIN_SECONDS)


def lease_claim(authentication_id: int, owner: str) -> bool:
    """Take the lease if it is free or expired by the database's clock; True if taken."""
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=Now())
    claimed = HttpAuthentication.objects.filter(free, pk=authentication_id).update(
        lease_owner=owner, lease_expires_at=Now() + Value(lease_duration(), output_field=DurationField())
    )
    return claimed == 1


def lease_release(authentication_id: int, owner: str) -> None:
    try:
        HttpAuthentication.objects.filter(pk=authentication_id, lease_owner=owner).update(
            lease_owner="", lease_expires_at=None
        )
    except DatabaseError as error:
        # The lease expires by itself; the caller's own outcome matters more.
        logger.warning("could not release the lease of %s: %s", authentication_id, type(error).__name__)


class _Released:
    """How many times each authentication's lease was released by this process, under a
    condition that wakes the threads waiting for it."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.counts: dict[int, int] = {}

    def count(self, authentication_id: int) -> int:
        with self.condition:
            return self.counts.get(authentication_id, 0)

    def announce(self, authentication_id: int) -> None:
        with self.condition:
            self.counts[authentication_id] = self.counts.get(authentication_id, 0) + 1
            self.condition.notify_all()

    def wait(self, authentication_id: int, seen: int, timeout: float) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.counts.get(authentication_id, 0) != seen, timeout)


_released = _Released()


def _channel(authentication_id: int) -> str:
    return f"nsconnect_lease_{authentication_id}"


def _can_listen() -> bool:
    # Inside a transaction LISTEN would only start at its commit, too late to hear anything.
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _announce_release(authentication_id: int) -> None:
    _released.announce(authentication_id)
    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [_channel(authentication_id)])
    except DatabaseError as error:
        # Waiters elsewhere still look again after POLL_SECONDS.
        logger.warning("could not announce the release of %s: %s", authentication_id, type(error).__name__)


class _Wake:
    """One waiter's ear for the release of a lease. Armed before each look, so that a release
    between the look and the wait still wakes it. It LISTENs only once the lease is found
    held, so that a caller served at once costs no statement more."""

    def __init__(self, authentication_id: int) -> None:
        self.authentication_id = authentication_id
        self.seen = 0
        self.listening = False

    def arm(self) -> None:
        self.seen = _released.count(self.authentication_id)

    def listen(self) -> bool:
        """True if it has just started listening (the caller looks once more before waiting)."""
        if self.listening or not _can_listen():
            return False
        with connection.cursor() as cursor:
            cursor.execute(f'LISTEN "{_channel(self.authentication_id)}"')
        self.listening = True
        return True

    def wait(self, timeout: float) -> None:
        if not self.listening:
            _released.wait(self.authentication_id, self.seen, timeout)
            return
        # The holder's NOTIFY, from this process or another; any notification will do, since
        # the waiter looks again anyway.
        for _ in connection.connection.notifies(timeout=timeout, stop_after=1):
            break

    def close(self) -> None:
        if not self.listening:
            return
        self.listening = False
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'UNLISTEN "{_channel(self.authentication_id)}"')
            # A kept connection must not carry this wait's notifications into the next one.
            for _ in connection.connection.notifies(timeout=0):
                pass
        except DatabaseError as error:
            name = type(error).__name__
            logger.warning("could not stop listening for %s: %s", self.authentication_id, name)


class _Flight:
    """One thread's request for a token that the other threads of this process asking the same
    question wait for: its token, or the failure NetSuite gave it (see token_get)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.token: AccessToken | None = None
        self.failure: http_exchange.TokenRequestError | None = None

    def outcome(self, timeout: float) -> AccessToken | None:
        """A copy of the token for this follower; None if the leader failed otherwise than with
        a TokenRequestError (a database error in its own look, say): the follower tries itself."""
        if not self.done.wait(timeout):
            raise http_exchange.TokenRequestError("busy", BUSY)
        if self.failure is not None:
            failure = self.failure
            raise http_exchange.TokenRequestError(
                failure.kind,
                failure.message,
                status=failure.status,
                error_code=failure.error_code,
                retry_after=failure.retry_after,
            )
        # Each caller gets its own instance, as if it had read the row itself.
        return copy.copy(self.token) if self.token is not None else None


# (authentication id, min_seconds_left, busy_min_seconds_left) -> the flight under way.
_flights: dict[tuple[int, int, int | None], _Flight] = {}
_flights_lock = threading.Lock()
BUSY = "Another request for this token is taking too long. Try again in a minute."


def _usable_token(
    authentication_id: int, min_seconds_left: int, now: datetime, obtained_since: datetime | None
) -> AccessToken | None:
    tokens_ = AccessToken.objects.filter(
        authentication_id=authentication_id, expires_at__gt=now + timedelta(seconds=min_seconds_left)
    )
    if obtained_since is not None:
        tokens_ = tokens_.filter(obtained_at__gte=obtained_since)
    token = tokens_.select_related("authentication").defer("value").first()
    if token is None:
        return None
    try:
        token.value  # noqa: B018  (loads and decrypts the deferred value)
    except DecryptionError:
        # Encrypted with a key since removed: as good as none; the next token replaces it.
        logger.warning("the stored token of %s cannot be decrypted; retrieving a new one", authentication_id)
        return None
    return token


@sensitive_variables()
def token_get(
    *,
    authentication: HttpAuthentication,
    actor: Actor,
    min_seconds_left: int = 60,
    fresh: bool = False,
    ip_address: str | None = None,
    busy_min_seconds_left: int | None = None,
) -> AccessToken:
    """A token valid for at least min_seconds_left, from NetSuite only if there is none.

    fresh=True (the Retrieve button) wants a token obtained after the call began.
    A caller that waited while another one failed gets that failure, not a second
    request to NetSuite. Callers of one process asking the same (not fresh) at once share
    the first one's answer. With busy_min_seconds_left, a caller that finds the lease
    held by another is served at once a token with that many seconds left, if there
    is one, instead of waiting for the holder. A disabled authentication is refused
    before anything is asked or served: disabled means not refreshed and serving no
    tokens, whichever button asks.
    """
    try:
        if not authentication.enabled:
            raise http_exchange.TokenRequestError("disabled", DISABLED)
        return _token_get(authentication, actor, min_seconds_left, fresh, ip_address, busy_min_seconds_left)
    except Exception as error:
        # A database that is locked, say: the caller gets a failure it can show, never a 500.
        raise token_attempt.failure_for(error) from None


def _token_get(
    authentication: HttpAuthentication,
    actor: Actor,
    min_seconds_left: int,
    fresh: bool,
    ip_address: str | None,
    busy_min_seconds_left: int | None,
) -> AccessToken:
    # A waiter gives up only after a holder's lease would have expired.
    deadline = time.monotonic() + lease_duration().total_seconds() + 5
    if fresh:  # wants a token obtained after its own start: no earlier flight will do
        return _token_get_alone(
            authentication, actor, min_seconds_left, fresh, ip_address, busy_min_seconds_left, deadline
        )
    question = (authentication.pk, min_seconds_left, busy_min_seconds_left)
    with _flights_lock:
        flight = _flights.get(question)
        leading = flight is None
        if flight is None:
            flight = _flights[question] = _Flight()
    if not leading:
        token = flight.outcome(max(0.0, deadline - time.monotonic()))
        if token is not None:
            return token
        return _token_get_alone(
            authentication, actor, min_seconds_left, fresh, ip_address, busy_min_seconds_left, deadline
        )
    try:
        flight.token = _token_get_alone(
            authentication, actor, min_seconds_left, fresh, ip_address, busy_min_seconds_left, deadline
        )
        return flight.token
    except http_exchange.TokenRequestError as failure:
        flight.failure = failure
        raise
    finally:
        with _flights_lock:
            del _flights[question]
        flight.done.set()


def _token_get_alone(
    authentication: HttpAuthentication,
    actor: Actor,
    min_seconds_left: int,
    fresh: bool,
    ip_address: str | None,
    busy_min_seconds_left: int | None,
    deadline: float,
) -> AccessToken:
    pk = authentication.pk
    started = timezone.now()
    owner = uuid.uuid4().hex
    failures_before = authentication.consecutive_failures
    wake = _Wake(pk)
    try:
        while True:
            wake.arm()
            token = _usable_token(pk, min_seconds_left, timezone.now(), started if fresh else None)
            if token is not None:
                return token
            if lease_claim(pk, owner):
                wake.close()  # the holder has nothing left to wait for
                since = started if fresh else None
                return _token_as_holder(
                    authentication, owner, actor, ip_address, failures_before, min_seconds_left, since
                )
            if busy_min_seconds_left is not None:
                # Another holds the lease, alive or dead: its lease may outlast the token we have.
                token = _usable_token(pk, busy_min_seconds_left, timezone.now(), None)
                if token is not None:
                    return token
            if time.monotonic() > deadline:
                raise http_exchange.TokenRequestError("busy", BUSY)
            if wake.listen():
                continue  # listening from now on: one more look, then wait
            wake.wait(POLL_SECONDS)
    finally:
        wake.close()


def _token_as_holder(
    authentication: HttpAuthentication,
    owner: str,
    actor: Actor,
    ip_address: str | None,
    failures_before: int,
    min_seconds_left: int,
    obtained_since: datetime | None,
) -> AccessToken:
    pk = authentication.pk
    released = False
    try:
        # Another holder may have finished between our look and our claim.
        token = _usable_token(pk, min_seconds_left, timezone.now(), obtained_since)
        if token is not None:
            return token
        authentication.refresh_from_db()
        if not authentication.enabled:  # disabled while this caller waited
            raise http_exchange.TokenRequestError("disabled", DISABLED)
        if authentication.consecutive_failures > failures_before and authentication.last_error:
            raise http_exchange.TokenRequestError(authentication.last_error_kind, authentication.last_error)
        # The statements here delay every caller waiting: the key is read with its private key's
        # ciphertext (not a second query to sign; decrypted once per process), and storing the
        # token frees the lease in its own UPDATE.
        token = token_attempt.token_retrieve(
            authentication=authentication,
            actor=actor,
            ip_address=ip_address,
            signing_key=token_attempt.active_key_to_sign_with(authentication),
            lease_owner=owner,
        )
        released = True
        return token
    finally:
        if not released:
            lease_release(pk, owner)
        _announce_release(pk)


@dataclass(frozen=True)
class StoredState:
    """What a caller already read with the authentication, so that serving a valid token
    asks the database nothing more: its stored token (None if none) and its active key's expiry."""

    token: AccessToken | None
    key_expires_at: datetime | None


@sensitive_variables()
def token_for_consumer(
    authentication: HttpAuthentication,
    *,
    actor: Actor,
    ip_address: str | None = None,
    stored: StoredState | None = None,
) -> AccessToken:
    """What the token API serves: the current token, renewed single-flight when under a minute
    is left, unless back-off says NetSuite must not be asked yet.

    Disabling is a kill switch, and an expired certificate or a token URL no longer
    admitted ends serving: all are looked at before any stored token is, whether read
    here or handed in as `stored` (read in the same query as the authentication)."""
    now = timezone.now()
    if not authentication.enabled:
        raise TokenUnavailable("This authentication is disabled.")
    # Before retries_stopped: an expired certificate also ends in invalid_client, and
    # its expiry is the explanation a consumer can act on.
    if stored is None:
        signing_key = authentication.active_key()
        key_expires_at = signing_key.effective_expires_at if signing_key is not None else None
    else:
        key_expires_at = stored.key_expires_at
    if key_expires_at is not None and key_expires_at <= now:
        raise TokenUnavailable(expired_message(key_expires_at))
    # A token is served only while its URL is still admitted: an origin removed from
    # NSCONNECT_TOKEN_URL_ALLOWLIST stops serving what it issued at once (no network asked).
    try:
        token_urls.check_token_url(authentication.token_url)
    except token_urls.ProtocolValueError as error:
        raise TokenUnavailable(
            "The Authentication URL is no longer admitted, so its token is not served: "
            f"{error} Correct the Authentication URL, or NSCONNECT_TOKEN_URL_ALLOWLIST."
        ) from None
    if stored is None:
        token = _usable_token(authentication.pk, 60, now, None)
    else:
        # Read with the authentication, in one snapshot: looking again would find the same.
        token = stored.token if stored.token is not None and stored.token.seconds_left(now) > 60 else None
    if token is not None:
        return token
    if authentication.retries_stopped:
        raise TokenUnavailable(
            f"NetSuite refused the credentials; retries are stopped until the record is fixed. "
            f"{authentication.last_error}"
        )
    if authentication.next_attempt_at and authentication.next_attempt_at > now:
        raise TokenUnavailable(
            f"Token refresh is failing; the next attempt is at {authentication.next_attempt_at.isoformat()}. "
            f"{authentication.last_error}"
        )
    try:
        return token_get(
            authentication=authentication,
            actor=actor,
            min_seconds_left=60,
            ip_address=ip_address,
            busy_min_seconds_left=STILL_VALID_SECONDS,
        )
    except http_exchange.TokenRequestError as error:
        raise TokenUnavailable(error.message) from None


def expired_message(expires_at: datetime) -> str:
    return (
        f"Certificate expired on {expires_at:%Y-%m-%d}: NetSuite refuses it, "
        "so nsconnect no longer asks. Make a new key pair, upload its certificate in NetSuite "
        "and rotate the key."
    )


def refresh_scheduled(authentication_id: int) -> str:
    """The scheduler's refresh of one authentication; safe to run twice. Returns what it did.

    Every failure is recorded by the attempt (status, back-off, audit, alert) and comes
    back here as a short status, never as a traceback the worker logs each minute. A
    database failure raises DatabaseUnavailable instead, so that the task tries again
    soon: the database, not NetSuite, was in the way, and nothing was stored meanwhile."""
    margin = settings.NSCONNECT_REFRESH_MARGIN_SECONDS
    try:
        authentication = selectors.due_for_refresh(timezone.now()).filter(pk=authentication_id).first()
        if authentication is None:
            return "not due"
        token = token_get(authentication=authentication, actor="scheduler", min_seconds_left=margin)
    except http_exchange.TokenRequestError as error:
        if error.kind == token_attempt.DATABASE_FAILURE:
            raise DatabaseUnavailable(error.message) from None
        return f"failed: {error.kind}"
    except DatabaseError as error:
        failure = token_attempt.failure_for(error, what="while looking for due tokens")
        raise DatabaseUnavailable(failure.message) from None
    return f"valid until {token.expires_at.isoformat()}"
