"""Each API client is limited per minute, and its use is counted per authentication."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client

from api.models import ApiClient, ApiUsage
from tests.api.consumer import get_token

pytestmark = pytest.mark.django_db

# Ten seconds into a minute, tomorrow (after the test certificates' notBefore).
MOMENT = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=9, minute=30, second=10, microsecond=0)


def test_past_the_limit_it_answers_429_until_the_next_minute(client, acme, issue, settings, fake_netsuite):
    settings.NSCONNECT_API_RATE_LIMIT = 2
    key = issue(acme).key
    with time_machine.travel(MOMENT, tick=False):
        assert [get_token(client, "acme-erp", key).status_code for _ in range(2)] == [200, 200]
        refused = get_token(client, "acme-erp", key)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "50"
    assert refused["Cache-Control"] == "no-store"
    assert refused.json()["error"] == "rate_limited"
    with time_machine.travel(MOMENT + dt.timedelta(seconds=50), tick=False):
        assert get_token(client, "acme-erp", key).status_code == 200


def test_the_limit_is_per_client(client, acme, issue, settings, fake_netsuite):
    settings.NSCONNECT_API_RATE_LIMIT = 1
    first, second = issue(acme, name="Orders ETL").key, issue(acme, name="Stock sync").key
    with time_machine.travel(MOMENT, tick=False):
        assert get_token(client, "acme-erp", first).status_code == 200
        assert get_token(client, "acme-erp", first).status_code == 429
        assert get_token(client, "acme-erp", second).status_code == 200


def test_the_limit_applies_before_anything_is_looked_up(client, acme, issue, settings, fake_netsuite):
    settings.NSCONNECT_API_RATE_LIMIT = 1
    key = issue(acme).key
    with time_machine.travel(MOMENT, tick=False):
        assert get_token(client, "no-such-thing", key).status_code == 404
        assert get_token(client, "no-such-thing", key).status_code == 429


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_share_one_count(acme, issue, settings):
    """GIVEN a limit of 5 WHEN 12 requests arrive at once on their own database connections
    THEN exactly 5 get through, as they would across web processes."""
    settings.NSCONNECT_API_RATE_LIMIT = 5
    key = issue(acme).key
    start = threading.Barrier(12)

    def call() -> int:
        try:
            start.wait()
            return get_token(Client(), "no-such-thing", key).status_code
        finally:
            connection.close()

    with time_machine.travel(MOMENT, tick=False), ThreadPoolExecutor(max_workers=12) as pool:
        statuses = sorted(pool.map(lambda _: call(), range(12)))
    assert statuses == [404] * 5 + [429] * 7


def test_uses_are_counted_per_authentication_with_last_used(
    client, acme, issue, register, create_authentication, fake_netsuite
):
    beta = create_authentication(register("p384"), name="Beta WMS")
    issued = issue(acme, beta)
    client = Client()  # the service's own, not Sam's signed-in browser
    with time_machine.travel(MOMENT, tick=False):
        for _ in range(3):
            get_token(client, "acme-erp", issued.key)
    with time_machine.travel(MOMENT + dt.timedelta(minutes=5), tick=False):
        get_token(client, "beta-wms", issued.key)
    counts = {
        usage.authentication.identifier: (usage.count, usage.last_used_at) for usage in ApiUsage.objects.all()
    }
    assert counts == {"acme-erp": (3, MOMENT), "beta-wms": (1, MOMENT + dt.timedelta(minutes=5))}
    assert ApiClient.objects.get().last_used_at == MOMENT + dt.timedelta(minutes=5)


def test_refused_requests_are_not_counted_as_uses(client, acme, issue, register, create_authentication):
    create_authentication(register("p384"), name="Beta WMS")
    key = issue(acme).key
    get_token(client, "beta-wms", key)
    get_token(client, "no-such-thing", key)
    assert ApiUsage.objects.count() == 0


@pytest.fixture
def counted_in_cache(settings):
    """A cache every web process shares (Redis in production; this process's memory here)."""
    settings.NSCONNECT_API_COUNT_IN_CACHE = True
    cache.clear()
    yield
    cache.clear()


def test_in_the_cache_past_the_limit_it_answers_429_and_writes_no_count(
    client, acme, issue, settings, fake_netsuite, counted_in_cache
):
    settings.NSCONNECT_API_RATE_LIMIT = 2
    key = issue(acme).key
    with time_machine.travel(MOMENT, tick=False):
        assert [get_token(client, "acme-erp", key).status_code for _ in range(2)] == [200, 200]
        refused = get_token(client, "acme-erp", key)
    assert (refused.status_code, refused["Retry-After"]) == (429, "50")
    assert refused.json()["error"] == "rate_limited"
    assert ApiClient.objects.get().window_count == 0
    with time_machine.travel(MOMENT + dt.timedelta(seconds=50), tick=False):
        assert get_token(client, "acme-erp", key).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_in_the_cache_concurrent_requests_share_one_count(acme, issue, settings, counted_in_cache):
    settings.NSCONNECT_API_RATE_LIMIT = 5
    key = issue(acme).key
    start = threading.Barrier(12)

    def call() -> int:
        try:
            start.wait()
            return get_token(Client(), "no-such-thing", key).status_code
        finally:
            connection.close()

    with time_machine.travel(MOMENT, tick=False), ThreadPoolExecutor(max_workers=12) as pool:
        statuses = sorted(pool.map(lambda _: call(), range(12)))
    assert statuses == [404] * 5 + [429] * 7
    assert ApiClient.objects.get().window_count == 0


def test_in_the_cache_uses_reach_the_list_page_after_a_flush(
    sam_client, acme, issue, register, create_authentication, fake_netsuite, settings, counted_in_cache
):
    """GIVEN uses counted in the cache WHEN tokens are fetched THEN nothing is written per request,
    and the API client list shows every use and the last one (it flushes before it reads)."""
    settings.NSCONNECT_API_USAGE_FLUSH_SECONDS = 3600
    beta = create_authentication(register("p384"), name="Beta WMS")
    issued = issue(acme, beta)
    client = Client()  # the service's own, not Sam's signed-in browser
    with time_machine.travel(MOMENT, tick=False):
        for _ in range(3):
            assert get_token(client, "acme-erp", issued.key).status_code == 200
    with time_machine.travel(MOMENT + dt.timedelta(minutes=5), tick=False):
        assert get_token(client, "beta-wms", issued.key).status_code == 200
    assert ApiUsage.objects.count() == 0  # not written per request

    response = sam_client.get("/api-clients/")
    assert response.status_code == 200, response
    page = response.content.decode()
    assert '<td data-label="Total uses">4</td>' in page
    assert f"{MOMENT + dt.timedelta(minutes=5):%Y-%m-%d %H:%M}" in page
    usages = ApiUsage.objects.all()
    counts = {usage.authentication.identifier: (usage.count, usage.last_used_at) for usage in usages}
    assert counts == {"acme-erp": (3, MOMENT), "beta-wms": (1, MOMENT + dt.timedelta(minutes=5))}
    # Flushed once: showing the page again counts nothing twice.
    assert '<td data-label="Total uses">4</td>' in sam_client.get("/api-clients/").content.decode()


def test_in_the_cache_uses_are_flushed_by_requests_once_the_interval_has_passed(
    client, acme, issue, fake_netsuite, settings, counted_in_cache
):
    key = issue(acme).key
    settings.NSCONNECT_API_USAGE_FLUSH_SECONDS = 3600
    for _ in range(2):
        assert get_token(client, "acme-erp", key).status_code == 200
    assert not ApiUsage.objects.exists()
    settings.NSCONNECT_API_USAGE_FLUSH_SECONDS = 0  # the interval has passed
    assert get_token(client, "acme-erp", key).status_code == 200
    assert ApiUsage.objects.get().count == 3
