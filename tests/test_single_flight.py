"""Single flight: many callers, one request to NetSuite, one token for all."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import os
import subprocess
import sys
import threading
import time

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from authentications.models import AccessToken, HttpAuthentication
from authentications.netsuite import http_exchange
from authentications.netsuite.http_exchange import TokenRequestError
from authentications.services import token_single_flight

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def expired(register, create_authentication, fake_netsuite):
    """An authentication whose token has just expired, and a NetSuite that takes 300 ms to answer."""
    authentication = create_authentication(register("p256"))
    token_single_flight.token_get(authentication=authentication, actor="test")
    AccessToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    fake_netsuite.reset()
    fake_netsuite.delay = 0.3
    return authentication


def ask_at_once(callers: int, authentication_id: int) -> list[str]:
    """Each caller, in its own thread with its own connection, asks for the token at the
    same moment; returns the token each got, or the kind of error it got instead."""
    outcomes: list[str] = []
    barrier = threading.Barrier(callers)

    def call() -> None:
        authentication = HttpAuthentication.objects.get(pk=authentication_id)
        barrier.wait()
        try:
            outcomes.append(token_single_flight.token_get(authentication=authentication, actor="test").value)
        except TokenRequestError as error:
            outcomes.append(error.kind)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_twenty_threads_make_one_request_and_share_its_token(expired, fake_netsuite):
    results = ask_at_once(20, expired.pk)

    assert len(fake_netsuite.requests) == 1
    assert len(results) == 20
    assert set(results) == {fake_netsuite.issued_tokens[0]}


def test_waiters_are_woken_by_the_release_instead_of_polling(expired, fake_netsuite, monkeypatch):
    """GIVEN NetSuite answering in half a second WHEN 20 threads ask at once
    THEN one asks, and each of the others looks at the lease at most twice (on arrival, and
    once more if it just began listening for the release): it sleeps until woken, not polls."""
    fake_netsuite.delay = 0.5
    claims: collections.Counter[int] = collections.Counter()
    claim = token_single_flight.lease_claim

    def counted_claim(authentication_id: int, owner: str) -> bool:
        claims[threading.get_ident()] += 1
        return claim(authentication_id, owner)

    monkeypatch.setattr(token_single_flight, "lease_claim", counted_claim)
    results = ask_at_once(20, expired.pk)

    assert len(fake_netsuite.requests) == 1
    assert set(results) == {fake_netsuite.issued_tokens[0]}
    assert max(claims.values()) <= 2, claims


def test_threads_of_one_process_share_the_answer_of_the_first(expired, fake_netsuite, monkeypatch):
    """GIVEN NetSuite answering in half a second WHEN 20 threads of one process ask at once
    THEN one of them claims the lease and asks NetSuite, and the others take its token without
    a statement of their own: fifty waiters each looking at the database would delay the one
    that asks, and with it every one of them."""
    fake_netsuite.delay = 0.5
    claims: list[int] = []
    claim = token_single_flight.lease_claim

    def counted_claim(authentication_id: int, owner: str) -> bool:
        claims.append(threading.get_ident())
        return claim(authentication_id, owner)

    monkeypatch.setattr(token_single_flight, "lease_claim", counted_claim)
    results = ask_at_once(20, expired.pk)

    assert len(fake_netsuite.requests) == 1
    assert results == [fake_netsuite.issued_tokens[0]] * 20
    assert len(claims) == 1, claims


def test_four_processes_make_one_request_and_share_its_token(expired, fake_netsuite):
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{database['NAME']}"
    else:
        url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "NSCONNECT_ENCRYPTION_KEYS": ",".join(settings.NSCONNECT_ENCRYPTION_KEYS),
        "NSCONNECT_TOKEN_URL_ALLOWLIST": fake_netsuite.origin,
    }
    start_at = str(time.time() + 4)  # every process set up and waiting before anyone asks
    processes = [
        subprocess.Popen(  # noqa: S603  (our own module, fixed arguments)
            [sys.executable, "-m", "tests.single_flight_callers", str(expired.pk), "5", start_at],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=settings.BASE_DIR,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    digests = [line for stdout, _ in outputs for line in stdout.split()]

    assert len(fake_netsuite.requests) == 1
    assert len(digests) == 20
    assert set(digests) == {hashlib.sha256(fake_netsuite.issued_tokens[0].encode()).hexdigest()}


def test_waiters_get_the_failure_instead_of_asking_again(expired, fake_netsuite):
    fake_netsuite.fail_next("service_unavailable")
    outcomes = ask_at_once(5, expired.pk)
    assert len(fake_netsuite.requests) == 1
    assert outcomes == ["unavailable"] * 5


def test_an_expired_lease_of_a_crashed_holder_does_not_block(expired, fake_netsuite):
    HttpAuthentication.objects.filter(pk=expired.pk).update(
        lease_owner="crashed-worker", lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    token = token_single_flight.token_get(authentication=expired, actor="test")
    assert token.value == fake_netsuite.issued_tokens[0]
    expired.refresh_from_db()
    assert (expired.lease_owner, expired.lease_expires_at) == ("", None)


def test_a_lease_live_by_the_databases_clock_is_kept_when_this_machines_clock_runs_ahead(expired):
    """GIVEN another machine holding the lease for 30 more seconds by the database's clock
    WHEN this machine's clock runs an hour ahead
    THEN it does not take the lease: expiry is compared with the database's clock."""
    live_until = timezone.now() + dt.timedelta(seconds=30)
    HttpAuthentication.objects.filter(pk=expired.pk).update(
        lease_owner="other-machine", lease_expires_at=live_until
    )
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1), tick=False):
        assert not token_single_flight.lease_claim(expired.pk, "this-machine")
    expired.refresh_from_db()
    assert (expired.lease_owner, expired.lease_expires_at) == ("other-machine", live_until)


def test_a_lease_is_claimed_by_the_databases_clock_when_this_machines_clock_lags(expired):
    """GIVEN a lease that expired a second ago by the database's clock
    WHEN this machine's clock is an hour behind
    THEN it takes the lease, and the lease runs until the database's now plus its duration."""
    HttpAuthentication.objects.filter(pk=expired.pk).update(
        lease_owner="crashed-worker", lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with time_machine.travel(timezone.now() - dt.timedelta(hours=1), tick=False):
        assert token_single_flight.lease_claim(expired.pk, "this-machine")
    expired.refresh_from_db()
    assert expired.lease_owner == "this-machine"
    expected = timezone.now() + token_single_flight.lease_duration()
    assert abs((expired.lease_expires_at - expected).total_seconds()) < 5


@pytest.mark.parametrize(("connect", "read"), [(2.0, 5.0), (5.0, 20.0), (10.0, 120.0)])
def test_the_lease_outlives_the_exchanges_total_deadline(settings, connect, read):
    settings.NSCONNECT_HTTP_CONNECT_TIMEOUT = connect
    settings.NSCONNECT_HTTP_READ_TIMEOUT = read
    assert http_exchange.exchange_deadline_seconds() == connect + read
    assert token_single_flight.lease_duration().total_seconds() > http_exchange.exchange_deadline_seconds()
