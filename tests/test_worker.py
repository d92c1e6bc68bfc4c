"""A real Celery worker: the sweep's tasks travel through a real broker, run in the worker's
own thread with its own database connection, and refresh tokens; a lease left by a dead
worker does not stop them. (Workers killed, restarted brokers and databases cut off:
test_home_faults.py.)

Redis comes from CELERY_TEST_BROKER_URL (default redis://127.0.0.1:6379/15). Without it
these tests are skipped, except in CI, where they fail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from authentications import tasks
from authentications.models import AccessToken, HttpAuthentication

BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
WAIT_SECONDS = 20


def wait_for(condition: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while not (outcome := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s")
        time.sleep(0.05)
    return outcome


def redis_problem(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as error:
        return str(error)
    return None


@pytest.fixture(scope="session")
def celery_test_app() -> Celery:
    """The project's Celery configuration on a Redis database of its own, with a queue of its
    own, so a developer's worker or a second test run cannot take these tests' tasks."""
    problem = redis_problem(BROKER_URL)
    if problem is not None:
        message = (
            f"the worker tests need Redis at {BROKER_URL} ({problem}); start it or set CELERY_TEST_BROKER_URL"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    app = Celery("nsconnect-tests", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        broker_url=BROKER_URL,
        broker_transport_options={},
        result_backend=BROKER_URL,  # the ping check and .get() need one
        result_expires=600,
        task_default_queue=f"nsconnect-tests-{uuid.uuid4().hex[:12]}",
        worker_hijack_root_logger=False,
    )
    app.loader.import_module("celery.contrib.testing.tasks")  # celery.ping, for the ping check
    return app


@pytest.fixture(scope="session")
def session_worker(celery_test_app: Celery, django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    # One worker for the whole session: a second start_worker in one process can hang.
    with contextlib.ExitStack() as stack:
        with django_db_blocker.unblock():
            worker = stack.enter_context(start_worker(celery_test_app, pool="solo", shutdown_timeout=30))
        yield worker
    # The worker's thread has ended; its database connection goes with it only when collected,
    # and until then PostgreSQL refused to drop the test database after the session.
    gc.collect()
    queue = celery_test_app.conf.task_default_queue
    redis.Redis.from_url(BROKER_URL).delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def token_of(authentication: HttpAuthentication) -> AccessToken:
    return AccessToken.objects.get(authentication=authentication)


def refreshed(authentication: HttpAuthentication, old: AccessToken) -> AccessToken | None:
    """The new token once the refresh has finished (lease released), else None."""
    row = HttpAuthentication.objects.get(pk=authentication.pk)
    token = token_of(authentication)
    return token if token.value != old.value and not row.lease_owner else None


@pytest.mark.django_db(transaction=True)
def test_the_worker_refreshes_tokens_about_to_expire_and_leaves_fresh_ones(
    session_worker, authentication_in_state, fake_netsuite
):
    """GIVEN one token inside the refresh margin and one fresh token WHEN the sweep runs on the
    worker THEN the first is renewed by NetSuite and the second is not touched."""
    expiring = authentication_in_state("Expiring", token_seconds=120)
    fresh = authentication_in_state("Fresh", token_seconds=3000)
    expiring_before, fresh_before = token_of(expiring), token_of(fresh)

    assert tasks.sweep_tokens.delay().get(timeout=WAIT_SECONDS) == 1
    token = wait_for(lambda: refreshed(expiring, expiring_before))

    assert fake_netsuite.issued_tokens == [token.value]
    assert [request.claims["iss"] for request in fake_netsuite.requests] == [expiring.consumer_key]
    assert token.expires_at > expiring_before.expires_at + dt.timedelta(minutes=50)
    fresh_after = token_of(fresh)
    assert (fresh_after.value, fresh_after.expires_at) == (fresh_before.value, fresh_before.expires_at)


@pytest.mark.django_db(transaction=True)
def test_a_lease_left_by_a_dead_worker_does_not_stop_the_next_sweep(
    session_worker, authentication_in_state, fake_netsuite
):
    """GIVEN a refresh whose holder died, leaving its lease behind until it expired WHEN the
    next sweep runs THEN the token is refreshed and the lease released."""
    stuck = authentication_in_state(
        "Stuck",
        token_seconds=120,
        lease_owner="dead-worker",
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    before = token_of(stuck)

    assert tasks.sweep_tokens.delay().get(timeout=WAIT_SECONDS) == 1
    token = wait_for(lambda: refreshed(stuck, before))

    assert fake_netsuite.issued_tokens == [token.value]
    row = HttpAuthentication.objects.get(pk=stuck.pk)
    assert (row.lease_owner, row.lease_expires_at) == ("", None)


@pytest.mark.django_db(transaction=True)
def test_a_refresh_waits_for_a_live_lease_instead_of_asking_again(
    session_worker, authentication_in_state, fake_netsuite
):
    """GIVEN the worker in the middle of a refresh (NetSuite takes 0.5 s) WHEN a second refresh
    of the same authentication runs meanwhile THEN it waits for the first one's token."""
    authentication = authentication_in_state("Busy", token_seconds=120)
    fake_netsuite.delay = 0.5

    on_worker = tasks.refresh_token.delay(authentication.pk)
    wait_for(lambda: fake_netsuite.requests)  # the worker holds the lease and is waiting on NetSuite
    started = time.monotonic()
    here = tasks.refresh_token(authentication.pk)
    waited = time.monotonic() - started

    assert on_worker.get(timeout=WAIT_SECONDS) == here
    assert here.startswith("valid until ")
    assert len(fake_netsuite.requests) == 1
    assert token_of(authentication).value == fake_netsuite.issued_tokens[0]
    assert waited > 0.2
