"""The scheduled refresh of every due token at the pace of the network, not of the worker.

The sweep splits the due authentications into batches of whole NetSuite accounts (an
account is its token URL's host), one batch per worker process. A batch refreshes its
authentications from a bounded pool of threads: at most NSCONNECT_ACCOUNT_CONCURRENCY
requests to one account at once (NetSuite governs concurrency per account), and its share
of NSCONNECT_NETSUITE_CONCURRENCY in all. Each refresh claims the same database lease as
token_single_flight, so single flight holds across processes and machines as before.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, Q, Value
from django.db.models.fields import DurationField
from django.db.models.functions import Now
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from authentications import selectors
from authentications.models import HttpAuthentication, SigningKey
from authentications.netsuite import http_exchange
from authentications.services import token_attempt
from authentications.services.token_single_flight import (
    DatabaseUnavailable,
    lease_duration,
    lease_release,
    refresh_scheduled,
)
from authentications.statements import index_condition_literal, instance_from_row, prepared_cursor

logger = logging.getLogger(__name__)

# A batch starts no refresh after this many seconds: under the sweep's minute, so the next
# sweep takes what is left instead of two batches sharing the caps. What has started finishes.
BATCH_SECONDS = 50
NOT_DUE = "not due"


def account_of(token_url: str) -> str:
    """The NetSuite account a token URL belongs to, for concurrency: its host."""
    return HttpAuthentication(token_url=token_url).account_host


def due_batches(now: datetime | None = None, processes: int | None = None) -> list[list[int]]:
    """The ids due a refresh, in batches of whole accounts (so one batch holds an account's
    cap), one per worker process, balanced by size. One query."""
    due = selectors.due_for_refresh(now or timezone.now()).order_by("pk").values_list("pk", "token_url")
    by_account: dict[str, list[int]] = {}
    for authentication_id, token_url in due:
        by_account.setdefault(account_of(token_url), []).append(authentication_id)
    count = max(1, min(processes or os.cpu_count() or 1, len(by_account)))
    batches: list[list[int]] = [[] for _ in range(count)]
    for ids in sorted(by_account.values(), key=len, reverse=True):
        min(batches, key=len).extend(ids)
    return [sorted(batch) for batch in batches if batch]


def batch_in_flight(batches: int) -> int:
    """The requests one batch keeps in flight: its share of NSCONNECT_NETSUITE_CONCURRENCY."""
    return max(1, settings.NSCONNECT_NETSUITE_CONCURRENCY // max(1, batches))


def refresh_claimed(authentication_id: int) -> str:
    """Refresh one authentication if it is still due and nobody holds its lease; returns
    what it did, as refresh_scheduled does. Six statements when it succeeds: the claim,
    the row with its key, and the four of the stored token (which also frees the lease).

    The claim is the single-flight lease (token_single_flight.lease_claim) taken only while
    the row is still due: a sweep never waits for another holder, it leaves the refresh to it.
    A database failure is raised as a DatabaseError, whatever stage it met."""
    owner = uuid.uuid4().hex
    if not claim_due(authentication_id, owner, timezone.now()):
        return NOT_DUE
    released = False
    try:
        signing_key = active_key_for_refresh(authentication_id)
        if signing_key is None or signing_key.authentication is None:  # deleted since the claim
            return NOT_DUE
        token = token_attempt.token_retrieve(
            authentication=signing_key.authentication,
            actor="scheduler",
            signing_key=signing_key,
            lease_owner=owner,
        )
        released = True
        return f"valid until {token.expires_at.isoformat()}"
    except http_exchange.TokenRequestError as error:
        if error.kind == token_attempt.DATABASE_FAILURE:
            raise DatabaseError(error.message) from None
        return f"failed: {error.kind}"
    finally:
        if not released:
            lease_release(authentication_id, owner)


def _claim_query(authentication_id: int, owner: str, now: datetime) -> UpdateQuery:
    """The claim as the ORM writes it: the lease, where the row is due and the lease free."""
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=Now())
    due = selectors.due_for_refresh(now).filter(free, pk=authentication_id)
    query = cast(UpdateQuery, due.query.chain(UpdateQuery))  # as QuerySet.update() does
    query.add_update_values(
        {
            "lease_owner": owner,
            "lease_expires_at": Now() + Value(lease_duration(), output_field=DurationField()),
        }
    )
    return query


# The values the claim is compiled with, found again among its parameters and replaced.
_ID, _OWNER, _NOW = -987_654_321, "claim-owner-placeholder", datetime(2001, 2, 3, 4, 5, 6, 789, tzinfo=UTC)
_CLAIMS: dict[tuple[str, int, timedelta], tuple[str, list[Any], dict[int, str]]] = {}


def claim_due(authentication_id: int, owner: str, now: datetime) -> bool:
    """Take the single-flight lease (token_single_flight.lease_claim) of an authentication
    that is still due (selectors.due_for_refresh) and whose lease is free, in one statement.

    The ORM composes that statement once per database and settings, not on every claim: it
    joins three tables and took 1-2 ms of CPU to compose, a fifth of a refresh. Its values
    are put in place of the ones it was composed with."""
    connection = connections[router.db_for_write(HttpAuthentication)]
    margin = timedelta(seconds=settings.NSCONNECT_REFRESH_MARGIN_SECONDS)
    key = (connection.vendor, settings.NSCONNECT_REFRESH_MARGIN_SECONDS, lease_duration())
    if key not in _CLAIMS:
        statement, template = _claim_query(_ID, _OWNER, _NOW).get_compiler(connection.alias).as_sql()
        adapt = connection.ops.adapt_datetimefield_value
        slots = {_ID: "id", _OWNER: "owner", adapt(_NOW): "now", adapt(_NOW + margin): "horizon"}
        found = {n: slots[value] for n, value in enumerate(template) if value in slots}
        if set(found.values()) != set(slots.values()):  # the ORM wrote them otherwise: not here
            raise RuntimeError("the claim's parameters were not found in its compiled statement")
        _CLAIMS[key] = (statement, list(template), found)
    statement, template, found = _CLAIMS[key]
    adapt = connection.ops.adapt_datetimefield_value
    values = {"id": authentication_id, "owner": owner, "now": adapt(now), "horizon": adapt(now + margin)}
    params: list[Any] = [values[found[n]] if n in found else value for n, value in enumerate(template)]
    with prepared_cursor(connection) as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount > 0


def refresh_waiting(authentication_id: int) -> str:
    """refresh_scheduled for a batch: it waits out another holder's lease, so a retry after a
    database failure also refreshes what that failure left leased. Raises DatabaseError."""
    try:
        return refresh_scheduled(authentication_id)
    except DatabaseUnavailable as error:
        raise DatabaseError(str(error)) from None


# What a refresh reads of the key and its authentication (the attempt and its failure record);
# the rest of two wide rows cost more to read than the request to NetSuite.
KEY_FIELDS = ("certificate_id", "private_key", "fingerprint_sha256", "authentication")
AUTHENTICATION_FIELDS = ("name", "identifier", "jwt_algorithm", "consumer_key", "scopes", "token_url")


def _read_fields(model: type[Model], names: tuple[str, ...]) -> list[Field[Any, Any]]:
    """The primary key and these fields, in the model's own order (the order from_db takes)."""
    wanted = {"id", *names}
    return [field for field in model._meta.concrete_fields if field.name in wanted]


_KEY_READ = _read_fields(SigningKey, KEY_FIELDS)
_AUTHENTICATION_READ = _read_fields(HttpAuthentication, AUTHENTICATION_FIELDS)
# Where the row holds each, the private key apart: the instance leaves it unread.
_PRIVATE_KEY_COLUMN = [field.name for field in _KEY_READ].index("private_key")
_KEY_COLUMNS = [n for n in range(len(_KEY_READ)) if n != _PRIVATE_KEY_COLUMN]
_KEY_NAMES = [_KEY_READ[n].attname for n in _KEY_COLUMNS]
_AUTHENTICATION_NAMES = [field.attname for field in _AUTHENTICATION_READ]


_STATEMENTS: dict[str, str] = {}


def _active_key_statement(connection: BaseDatabaseWrapper) -> str:
    """The statement active_key_for_refresh runs, written once per kind of database: the ORM
    composes a join of two partial rows anew on every call, which took 0.5-1.5 ms of CPU
    here, 20 to 40 times the statement itself and 25 to 70 times an ES256 signature."""
    statement = _STATEMENTS.get(connection.vendor)
    if statement is None:
        quote = connection.ops.quote_name
        key, authentication = SigningKey._meta, HttpAuthentication._meta
        link = quote(key.get_field("authentication").column)
        active = index_condition_literal(SigningKey.State.ACTIVE.value)
        columns = [f"k.{quote(field.column)}" for field in _KEY_READ]
        columns += [f"a.{quote(field.column)}" for field in _AUTHENTICATION_READ]
        # Names from the models' own metadata, quoted; the id goes as a parameter.
        statement = _STATEMENTS[connection.vendor] = (
            f"SELECT {', '.join(columns)} FROM {quote(key.db_table)} k "  # noqa: S608
            f"INNER JOIN {quote(authentication.db_table)} a "
            f"ON a.{quote(authentication.pk.column)} = k.{link} "
            f"WHERE k.{link} = %s AND k.{quote(key.get_field('state').column)} = {active}"
        )
    return statement


def active_key_for_refresh(authentication_id: int) -> SigningKey | None:
    """The active key (at most one, by a constraint), with its private key's ciphertext and
    the few fields of its authentication an attempt reads, in one statement; None if there
    is none.

    The same rows as `.select_related("authentication").only(...)`: the columns read are
    text and integers, which need no conversion on SQLite or PostgreSQL. The private key is
    left unread and its ciphertext kept as read (private_key_ciphertext): signing decrypts it
    only if this process has not loaded it yet, and one that does not decrypt fails as this
    attempt's own, recorded failure."""
    alias = router.db_for_read(SigningKey)
    connection = connections[alias]
    with prepared_cursor(connection) as cursor:
        cursor.execute(_active_key_statement(connection), [authentication_id])
        row = cursor.fetchone()
    if row is None:
        return None
    signing_key = instance_from_row(SigningKey, alias, _KEY_NAMES, [row[n] for n in _KEY_COLUMNS])
    signing_key.private_key_ciphertext = row[_PRIVATE_KEY_COLUMN]
    signing_key.authentication = instance_from_row(
        HttpAuthentication, alias, _AUTHENTICATION_NAMES, row[len(_KEY_READ) :]
    )
    return signing_key


@dataclass
class BatchOutcome:
    """What a batch did: each authentication's status, and those the database failed."""

    statuses: dict[int, str] = field(default_factory=dict)
    database_failed: list[int] = field(default_factory=list)


def status_counts(outcome: BatchOutcome) -> dict[str, int]:
    """How many refreshes ended each way ("refreshed", "not due", "failed: <kind>")."""
    counts: dict[str, int] = {}
    for status in outcome.statuses.values():
        key = "refreshed" if status.startswith("valid until") else status
        counts[key] = counts.get(key, 0) + 1
    return counts


class _Accounts:
    """The batch's waiting line: hands out the next authentication whose account has fewer
    than its cap in flight, accounts in turn, until the line is empty or the time is up."""

    def __init__(self, by_account: dict[str, list[int]], per_account: int, stop_at: float) -> None:
        self._waiting = OrderedDict((account, deque(ids)) for account, ids in by_account.items())
        self._in_flight = dict.fromkeys(by_account, 0)
        self._per_account = per_account
        self._stop_at = stop_at
        self._changed = threading.Condition()

    def take(self) -> tuple[str, int] | None:
        with self._changed:
            while self._waiting:
                left = self._stop_at - time.monotonic()
                if left <= 0:
                    return None
                for account, ids in self._waiting.items():
                    if self._in_flight[account] < self._per_account:
                        self._in_flight[account] += 1
                        authentication_id = ids.popleft()
                        if ids:
                            self._waiting.move_to_end(account)
                        else:
                            del self._waiting[account]
                        return account, authentication_id
                self._changed.wait(timeout=left)
            return None

    def done(self, account: str) -> None:
        with self._changed:
            self._in_flight[account] -= 1
            self._changed.notify_all()


def refresh_batch(
    authentication_ids: list[int],
    *,
    in_flight: int,
    per_account: int | None = None,
    seconds: float = BATCH_SECONDS,
    refresh: Callable[[int], str] = refresh_claimed,
) -> BatchOutcome:
    """Refresh these authentications, up to in_flight at once and per_account per account
    (NSCONNECT_ACCOUNT_CONCURRENCY); none is started after `seconds`, and those left are
    simply not in the outcome (still due, the next sweep takes them)."""
    rows = HttpAuthentication.objects.filter(pk__in=authentication_ids).values_list("pk", "token_url")
    by_account: dict[str, list[int]] = {}
    for authentication_id, token_url in sorted(rows):
        by_account.setdefault(account_of(token_url), []).append(authentication_id)
    cap = per_account or settings.NSCONNECT_ACCOUNT_CONCURRENCY
    line = _Accounts(by_account, cap, time.monotonic() + seconds)
    outcome = BatchOutcome()
    recorded = threading.Lock()

    def work(own_thread: bool) -> None:
        try:
            while (taken := line.take()) is not None:
                account, authentication_id = taken
                try:
                    status = refresh(authentication_id)
                except DatabaseError as error:
                    token_attempt.failure_for(error, what="while refreshing a due token")  # logged
                    status = f"failed: {token_attempt.DATABASE_FAILURE}"
                    with recorded:
                        outcome.database_failed.append(authentication_id)
                except Exception as error:  # one refresh's bug must not stop the others
                    token_attempt.log_unexpected("while refreshing a due token", error)
                    status = "failed: internal"
                finally:
                    line.done(account)
                with recorded:
                    outcome.statuses[authentication_id] = status
        finally:
            if own_thread:  # it ends with the batch: so must its connection
                connections.close_all()

    threads = min(in_flight, len(rows), len(by_account) * cap)
    if threads <= 1:
        work(own_thread=False)  # one at a time: no thread needed
        return outcome
    workers = [
        threading.Thread(target=work, args=(True,), name=f"refresh-{n}", daemon=True) for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcome
