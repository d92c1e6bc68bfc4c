"""With the shared cache on Redis, a token request counts its rate and its use in one round
trip: Django's cache would make five (an existence check before each increment, and the last
use), and every one of them is time a web process serves no other request."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import uuid

import pytest
import redis
import time_machine
from django.core.cache import cache
from redis.connection import Connection

from api import ratelimit, services
from api.models import ApiUsage
from tests.api.consumer import get_token

pytestmark = pytest.mark.django_db
MOMENT = dt.datetime(2026, 3, 2, 9, 0, 10, tzinfo=dt.UTC)
# A Redis database of the tests' own (the worker tests' broker uses 15, `make bench` 14).
REDIS_URL = os.environ.get("NSCONNECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def redis_problem() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        return str(error)
    return ""


@pytest.fixture
def counted_in_redis(settings):
    problem = redis_problem()
    if problem:
        # Skipped where Redis is not running; in CI, where it must be, a failure.
        message = (
            f"these tests need Redis at {REDIS_URL} ({problem}): start it, or set NSCONNECT_TEST_REDIS_URL"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    settings.NSCONNECT_API_COUNT_IN_CACHE = True
    settings.NSCONNECT_API_USAGE_FLUSH_SECONDS = 3600
    yield
    ratelimit.forget_leases()
    # Only this test's keys: the database may be shared.
    server = redis.Redis.from_url(REDIS_URL)
    for key in server.scan_iter(match=f"{prefix}:*"):
        server.delete(key)


@pytest.fixture
def round_trips(monkeypatch):
    """The commands this process sends to Redis, counted as they leave (one per round trip)."""
    sent: list[object] = []
    send = Connection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return send(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counted)
    return sent


def test_a_lease_of_requests_costs_one_round_trip(
    client, acme, issue, settings, counted_in_redis, round_trips
):
    """GIVEN a limit of 640 a minute (leases of 10) WHEN a service asks for its token 21 times in
    a minute THEN this process went to Redis three times: once per lease of 10, then once more."""
    settings.NSCONNECT_API_RATE_LIMIT = 640
    key = issue(acme).key
    with time_machine.travel(MOMENT, tick=False):
        assert get_token(client, "acme-erp", key).status_code == 200  # stores the token
        round_trips.clear()
        statuses = [get_token(client, "acme-erp", key).status_code for _ in range(20)]

    assert statuses == [200] * 20
    assert len(round_trips) == 2  # the rest of the first lease (9), a second (10), a third (1)
    assert services.api_usage_flush() == 21  # every use, those admitted from a lease too


def test_across_processes_the_limit_is_exact(
    acme, issue, settings, counted_in_redis, round_trips, monkeypatch
):
    """GIVEN a limit of 640 a minute and two web processes (each its own leases) WHEN both keep
    asking for one client THEN 640 requests are admitted between them, not one more; and once
    the window is spent each refuses on its own, with no round trip."""
    settings.NSCONNECT_API_RATE_LIMIT = 640
    api_client = issue(acme).client
    processes: list[dict[str, object]] = [{}, {}]
    admitted = [0, 0]
    with time_machine.travel(MOMENT, tick=False):
        for turn in range(2 * 700):
            monkeypatch.setattr(ratelimit, "_LEASES", processes[turn % 2])
            if ratelimit.admit(api_client) is None:
                admitted[turn % 2] += 1
        round_trips.clear()
        for process in processes:
            monkeypatch.setattr(ratelimit, "_LEASES", process)
            assert ratelimit.admit(api_client) == 50  # Retry-After, in seconds

    assert sum(admitted) == 640 and min(admitted) >= 300, admitted
    assert round_trips == []


def test_uses_admitted_from_a_lease_reach_redis_within_moments(
    client, acme, issue, settings, counted_in_redis, monkeypatch
):
    """GIVEN uses admitted from a lease WHEN no other request comes THEN they are counted in
    Redis anyway, moments later (PENDING_USES_SECONDS), where every web process's flush finds them."""
    monkeypatch.setattr(ratelimit, "PENDING_USES_SECONDS", 0.05)
    settings.NSCONNECT_API_RATE_LIMIT = 640
    issued = issue(acme)
    for _ in range(4):
        assert get_token(client, "acme-erp", issued.key).status_code == 200
    count_key = f"nsconnect:api:uses:{issued.client.pk}:{acme.pk}"

    deadline = time.monotonic() + 5
    while cache.get(count_key) != 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cache.get(count_key) == 4


def test_in_redis_past_the_limit_it_answers_429_and_counts_no_use(
    client, acme, issue, settings, counted_in_redis
):
    settings.NSCONNECT_API_RATE_LIMIT = 2
    key = issue(acme).key
    with time_machine.travel(MOMENT, tick=False):
        assert [get_token(client, "acme-erp", key).status_code for _ in range(3)] == [200, 200, 429]
    with time_machine.travel(MOMENT + dt.timedelta(seconds=50), tick=False):
        assert get_token(client, "acme-erp", key).status_code == 200

    assert services.api_usage_flush() == 3  # as the API client list does before it reads
    usage = ApiUsage.objects.get()
    assert (usage.count, usage.last_used_at) == (3, MOMENT + dt.timedelta(seconds=50))
    assert cache.get(f"nsconnect:api:rate:{usage.client_id}:{int(MOMENT.timestamp()) - 10}") == 3


def test_a_connection_redis_closed_costs_the_request_nothing(client, acme, issue, settings, counted_in_redis):
    """GIVEN the web process's connection to Redis closed by the server (a restart, a timeout)
    WHEN a service asks for its token again THEN it gets it, and both requests are counted."""
    settings.NSCONNECT_API_RATE_LIMIT = 100  # leases of one: every request goes to Redis
    key = issue(acme).key
    assert get_token(client, "acme-erp", key).status_code == 200
    server = redis.Redis.from_url(REDIS_URL)
    database = server.connection_pool.connection_kwargs.get("db", 0)
    counting = [
        entry["id"]
        for entry in server.client_list()
        if int(entry["db"]) == database and entry["cmd"] in ("evalsha", "eval")
    ]
    assert counting
    for client_id in counting:
        server.client_kill_filter(_id=client_id)

    assert get_token(client, "acme-erp", key).status_code == 200
    assert services.api_usage_flush() == 2


def lease_until_refused(api_client, now) -> int:
    admitted = 0
    while ratelimit.admit(api_client, now) is None:
        admitted += 1
    return admitted


def test_two_threads_leasing_at_once_lose_no_places(acme, issue, settings, counted_in_redis, monkeypatch):
    """GIVEN a limit of 640 WHEN a second thread of the process takes a lease while the first
    one's round trip is under way THEN both leases are kept: 640 requests are admitted."""
    settings.NSCONNECT_API_RATE_LIMIT = 640
    api_client = issue(acme).client
    lease, uses = ratelimit._scripts_on(REDIS_URL)
    meanwhile: list[object] = []

    def lease_with_another_thread_meanwhile(**kwargs):
        leased = lease(**kwargs)
        if not meanwhile:  # the other thread's whole request, before this reply is read
            meanwhile.append("asking")
            meanwhile[0] = ratelimit.admit(api_client, MOMENT)
        return leased

    monkeypatch.setattr(ratelimit, "_scripts_on", lambda url: (lease_with_another_thread_meanwhile, uses))
    with time_machine.travel(MOMENT, tick=False):
        admitted = lease_until_refused(api_client, MOMENT)

    assert meanwhile == [None]
    assert admitted + 1 == 640


def test_a_thread_late_for_the_minute_keeps_the_new_minutes_leases(acme, issue, settings, counted_in_redis):
    """GIVEN leases taken in a new minute WHEN a thread that read the clock just before the
    minute turned asks THEN the new minute's leases are kept: its 640 places are all used."""
    settings.NSCONNECT_API_RATE_LIMIT = 640
    api_client = issue(acme).client
    new_minute = MOMENT + dt.timedelta(seconds=50)

    assert ratelimit.admit(api_client, new_minute) is None
    assert ratelimit.admit(api_client, MOMENT - dt.timedelta(seconds=1)) is None  # the late thread
    admitted = 1 + lease_until_refused(api_client, new_minute)

    assert admitted == 640


def test_a_batch_sent_twice_is_counted_once(counted_in_redis):
    """GIVEN a lease's round trip whose reply was lost WHEN redis-py sends it again (it retries)
    THEN Redis answers as the first time and counts nothing twice: no use, no place."""
    lease, _ = ratelimit._scripts_on(REDIS_URL)
    keys = [cache.make_key(name) for name in ("batch", "window", "uses", "used")]
    args = [120, 640, 10, 1, 1, 5]

    assert [lease(keys=keys, args=args) for _ in range(2)] == [10, 10]
    assert (cache.get("window"), cache.get("uses"), cache.get("used")) == (10, 1, 5)


def test_uses_whose_reply_was_lost_are_not_counted_again(counted_in_redis, monkeypatch):
    """GIVEN pending uses whose push ran in Redis but whose reply was lost WHEN uses are
    pushed again THEN they are not sent again: lost rather than counted twice."""
    lease, uses = ratelimit._scripts_on(REDIS_URL)

    def ran_then_lost(**kwargs):
        uses(**kwargs)
        raise redis.TimeoutError("Timeout reading from socket")

    ratelimit._pend((cache.make_key("uses"), cache.make_key("used"), 3, 7))
    monkeypatch.setattr(ratelimit, "_scripts_on", lambda url: (lease, ran_then_lost))
    ratelimit.push_pending_uses()
    monkeypatch.setattr(ratelimit, "_scripts_on", lambda url: (lease, uses))
    ratelimit.push_pending_uses()

    assert cache.get("uses") == 3


def unanswered_redis_url() -> str:
    """A Redis URL on a port nobody listens on: a Redis that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{probe.getsockname()[1]}/0"


def test_a_redis_that_does_not_answer_gets_a_503_not_an_error_page(client, acme, issue, settings):
    """GIVEN the cache that counts requests on a Redis that is down WHEN a service asks for its
    token THEN it gets a JSON 503 with Retry-After (try again shortly), not a 500."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": unanswered_redis_url(),
        }
    }
    settings.NSCONNECT_API_COUNT_IN_CACHE = True
    key = issue(acme).key

    response = get_token(client, "acme-erp", key)

    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    assert "not answering" in response.json()["detail"]


def test_a_request_admitted_from_a_lease_is_served_while_redis_is_down(
    client, acme, issue, settings, counted_in_redis, monkeypatch
):
    """GIVEN places leased from Redis WHEN Redis stops answering and the uses' flush is due
    THEN the request is still served from the lease (the flush waits for a later one)."""
    key = issue(acme).key
    assert get_token(client, "acme-erp", key).status_code == 200  # leases 9 places
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": unanswered_redis_url()}}
    settings.NSCONNECT_API_USAGE_FLUSH_SECONDS = 10
    monkeypatch.setattr(services, "_last_look", time.monotonic() - 11)  # the flush is due

    response = get_token(client, "acme-erp", key)

    assert response.status_code == 200, response.content


def test_an_error_redis_answers_with_is_not_taken_for_an_outage(
    client, acme, issue, settings, counted_in_redis
):
    """GIVEN Redis answering the count with an error (a key of another type here) WHEN a service
    asks for its token THEN it is an error to look into (500 JSON, logged), not a 503 inviting
    every client to retry every few seconds for ever."""
    settings.NSCONNECT_API_RATE_LIMIT = 100
    issued = issue(acme)
    with time_machine.travel(MOMENT, tick=False):
        window = cache.make_key(f"nsconnect:api:rate:{issued.client.pk}:{int(MOMENT.timestamp()) - 10}")
        redis.Redis.from_url(REDIS_URL).hset(window, "wrong", "type")
        response = get_token(client, "acme-erp", issued.key)

    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
