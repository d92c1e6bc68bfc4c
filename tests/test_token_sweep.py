"""The scheduled refresh at the network's pace (issue 12): the sweep's batches of whole NetSuite
accounts, the caps on requests in flight, what one refresh costs the database, and the worker
settings that keep connections and messages moving."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from authentications import fields, tasks
from authentications.models import AccessToken, AuditEvent, HttpAuthentication
from authentications.services import token_single_flight, token_sweep
from nsconnect.celery import app

pytestmark = pytest.mark.django_db


def on_account(authentication: Any, host: str) -> None:
    """Move an authentication to another NetSuite account: a token URL on another host."""
    HttpAuthentication.objects.filter(pk=authentication.pk).update(
        token_url=f"https://{host}/services/rest/auth/oauth2/v1/token"
    )


def test_the_sweep_keeps_each_account_in_one_batch_and_balances_the_batches(authentication_in_state):
    """GIVEN due authentications on three NetSuite accounts, two, two and one of them
    WHEN the sweep splits them for two worker processes
    THEN each account is in one batch only (so one process holds its cap), and the batches
    hold three and two."""
    hosts = ["a.suitetalk.api.netsuite.com"] * 2 + ["b.suitetalk.api.netsuite.com"] * 2
    hosts += ["c.suitetalk.api.netsuite.com"]
    due = [authentication_in_state(f"Due {n}") for n in range(5)]
    for authentication, host in zip(due, hosts, strict=True):
        on_account(authentication, host)
    authentication_in_state("Fresh", token_seconds=3000)

    batches = token_sweep.due_batches(processes=2)

    host_of = {authentication.pk: host for authentication, host in zip(due, hosts, strict=True)}
    assert sorted(len(batch) for batch in batches) == [2, 3]
    assert sorted(pk for batch in batches for pk in batch) == sorted(host_of)
    for host in set(hosts):
        assert sum(any(host_of[pk] == host for pk in batch) for batch in batches) == 1


def test_two_batches_share_the_requests_in_flight(settings):
    settings.NSCONNECT_NETSUITE_CONCURRENCY = 32
    assert [token_sweep.batch_in_flight(n) for n in (1, 2, 3, 64)] == [32, 16, 10, 1]


def test_a_batch_keeps_at_most_its_caps_in_flight_overall_and_per_account(authentication_in_state):
    """GIVEN 20 due authentications on 4 accounts WHEN a batch refreshes them with 6 in flight
    and 2 per account THEN never more than 2 ask one account at once, never more than 6 in all,
    and both caps are reached."""
    authentications = [authentication_in_state(f"Due {n}") for n in range(20)]
    account = {}
    for n, authentication in enumerate(authentications):
        account[authentication.pk] = f"account-{n % 4}.suitetalk.api.netsuite.com"
        on_account(authentication, account[authentication.pk])
    lock = threading.Lock()
    now: Counter[str] = Counter()
    most: Counter[str] = Counter()

    def slow_refresh(authentication_id: int) -> str:
        with lock:
            now[account[authentication_id]] += 1
            now["all"] += 1
            for key in (account[authentication_id], "all"):
                most[key] = max(most[key], now[key])
        time.sleep(0.05)
        with lock:
            now[account[authentication_id]] -= 1
            now["all"] -= 1
        return "refreshed"

    outcome = token_sweep.refresh_batch(
        [a.pk for a in authentications], in_flight=6, per_account=2, refresh=slow_refresh
    )

    assert sorted(outcome.statuses) == sorted(account)
    assert most["all"] == 6
    assert max(most[host] for host in set(account.values())) == 2


def test_a_batch_starts_no_refresh_once_its_time_is_up(authentication_in_state):
    """GIVEN a batch of three with one in flight WHEN each refresh outlasts the batch's time
    THEN the first finishes and the others are not started (the next sweep takes them)."""
    authentications = [authentication_in_state(f"Due {n}") for n in range(3)]

    def slow_refresh(authentication_id: int) -> str:
        time.sleep(0.2)
        return "refreshed"

    outcome = token_sweep.refresh_batch(
        [a.pk for a in authentications], in_flight=1, seconds=0.1, refresh=slow_refresh
    )

    assert list(outcome.statuses) == [authentications[0].pk]


def test_a_scheduled_refresh_costs_six_statements(authentication_in_state, fake_netsuite):
    """GIVEN a token due WHEN the sweep's refresh renews it THEN it takes six SQL statements
    (the single-flight path of a page's Retrieve took 18): claim the lease, read the row and
    key, and store the token, status and audit event, the lease released with the status."""
    authentication = authentication_in_state("Due", token_seconds=120)

    with CaptureQueriesContext(connection) as queries:
        status = token_sweep.refresh_claimed(authentication.pk)

    token = AccessToken.objects.get(authentication=authentication)
    assert status == f"valid until {token.expires_at.isoformat()}"
    assert token.value == fake_netsuite.issued_tokens[0]
    # The savepoints are the test's own transaction's; in the worker the store is a transaction.
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) <= 6, [sql[:80] for sql in statements]
    row = HttpAuthentication.objects.get(pk=authentication.pk)
    assert (row.lease_owner, row.lease_expires_at) == ("", None)
    assert row.last_success_at == token.obtained_at
    assert AuditEvent.objects.filter(
        authentication=authentication, action=AuditEvent.Action.TOKEN_RETRIEVED
    ).exists()


def test_a_sweep_leaves_a_held_lease_to_its_holder_without_waiting(authentication_in_state, fake_netsuite):
    """GIVEN a token due whose lease another caller holds WHEN the sweep's refresh comes to it
    THEN it neither asks NetSuite nor waits: the holder is refreshing it."""
    authentication = authentication_in_state(
        "Busy",
        token_seconds=120,
        lease_owner="another-worker",
        lease_expires_at=timezone.now() + token_single_flight.lease_duration(),
    )

    started = time.monotonic()
    status = token_sweep.refresh_claimed(authentication.pk)

    assert status == "not due"
    assert time.monotonic() - started < token_single_flight.POLL_SECONDS
    assert fake_netsuite.requests == []
    assert HttpAuthentication.objects.get(pk=authentication.pk).lease_owner == "another-worker"


def test_a_failed_scheduled_refresh_records_the_failure_and_frees_the_lease(
    authentication_in_state, fake_netsuite
):
    authentication = authentication_in_state("Refused", token_seconds=120)
    fake_netsuite.fail_next("service_unavailable")

    status = token_sweep.refresh_claimed(authentication.pk)

    assert status == "failed: unavailable"
    row = HttpAuthentication.objects.get(pk=authentication.pk)
    assert (row.lease_owner, row.lease_expires_at) == ("", None)
    assert row.consecutive_failures == 1 and row.next_attempt_at is not None


def test_a_batch_task_reports_how_its_refreshes_ended(authentication_in_state, fake_netsuite):
    due = authentication_in_state("Due", token_seconds=120)
    fresh = authentication_in_state("Fresh", token_seconds=3000)

    counts = tasks.refresh_tokens.apply(args=([due.pk, fresh.pk], 1)).get()

    assert counts == {"refreshed": 1, "not due": 1}
    assert len(fake_netsuite.requests) == 1


def test_the_worker_keeps_its_database_connections_between_tasks():
    """Celery's Django fixup closes every connection around every task unless a reuse count is
    set; then only broken or obsolete ones are closed (CONN_MAX_AGE, as after a request)."""
    from celery.fixups.django import DjangoWorkerFixup

    assert DjangoWorkerFixup(app).db_reuse_max


def test_the_filesystem_broker_is_polled_ten_times_a_second(settings):
    if not settings.CELERY_BROKER_URL.startswith("filesystem:"):
        pytest.skip("CELERY_BROKER_URL is not the filesystem broker here")
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["polling_interval"] <= 0.1


def test_a_scheduled_refresh_claims_exactly_the_authentications_due(authentication_in_state, fake_netsuite):
    """GIVEN authentications in every state the sweep tells apart WHEN each is claimed for a
    scheduled refresh THEN exactly those the due selector lists are refreshed, and the others
    are left alone: the claim, composed once and run with new values, says what it says."""
    import datetime as dt

    from authentications import selectors
    from authentications.models import SigningKey

    now = timezone.now()
    minutes = dt.timedelta(minutes=1)
    authentications = [
        authentication_in_state("No token"),
        authentication_in_state("Expiring", token_seconds=120),
        authentication_in_state("Fresh", token_seconds=3000),
        authentication_in_state("Disabled", token_seconds=120, enabled=False),
        authentication_in_state("Stopped", token_seconds=120, retries_stopped=True),
        authentication_in_state("Backing off", token_seconds=120, next_attempt_at=now + 5 * minutes),
        authentication_in_state("Back-off over", token_seconds=120, next_attempt_at=now - minutes),
        authentication_in_state(
            "Lease lapsed",
            token_seconds=120,
            lease_owner="a-worker-that-died",
            lease_expires_at=now - dt.timedelta(seconds=1),
        ),
        authentication_in_state("Certificate expired", token_seconds=120),
    ]
    SigningKey.objects.filter(authentication=authentications[-1]).update(
        effective_expires_at=now - dt.timedelta(days=1)
    )
    due = set(selectors.authentications_due())
    assert {a.name for a in authentications if a.pk in due} == {
        "No token",
        "Expiring",
        "Back-off over",
        "Lease lapsed",
    }

    statuses = {a.name: token_sweep.refresh_claimed(a.pk) for a in authentications}

    refreshed = {name for name, status in statuses.items() if status.startswith("valid until")}
    assert refreshed == {a.name for a in authentications if a.pk in due}
    assert {status for name, status in statuses.items() if name not in refreshed} == {token_sweep.NOT_DUE}
    assert len(fake_netsuite.requests) == len(refreshed)
    # What was not due was not leased either (only the stale lease remains, untouched).
    leased = dict(HttpAuthentication.objects.exclude(lease_owner="").values_list("name", "lease_owner"))
    assert leased == {}


def test_the_key_a_refresh_reads_is_the_active_one_with_its_private_key(authentication_in_state):
    """GIVEN an authentication with an active key and a retired one WHEN a refresh reads its key
    THEN it has the active key with its private key decrypted, and the authentication's fields
    as the ORM reads them."""
    from authentications.models import SigningKey

    authentication = authentication_in_state("Two keys")
    active = SigningKey.objects.get(authentication=authentication, state=SigningKey.State.ACTIVE)
    retired = SigningKey.objects.get(pk=active.pk)
    retired.pk = None
    retired.state = SigningKey.State.RETIRED
    retired.certificate_id = "retired-certificate"
    retired.fingerprint_sha256 = "0" * 64
    retired.save()

    signing_key = token_sweep.active_key_for_refresh(authentication.pk)

    assert signing_key is not None and signing_key.pk == active.pk
    # The private key is left unread: its ciphertext, as stored, is what signing opens.
    assert "private_key" in signing_key.get_deferred_fields()
    assert signing_key.private_key_ciphertext is not None
    assert fields.decrypt(signing_key.private_key_ciphertext) == active.private_key
    assert (signing_key.certificate_id, signing_key.fingerprint_sha256) == (
        active.certificate_id,
        active.fingerprint_sha256,
    )
    read = signing_key.authentication
    for name in token_sweep.AUTHENTICATION_FIELDS:
        assert getattr(read, name) == getattr(authentication, name), name
    assert token_sweep.active_key_for_refresh(authentication.pk + 1000) is None
