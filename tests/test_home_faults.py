"""Faults at home: the servers nsconnect runs on fail, and token refresh goes on.

Redis restarts under a running worker; PostgreSQL refuses connections in the middle of a
refresh; the same refresh is delivered twice; a worker is killed with SIGKILL while NetSuite
is answering it. The workers are real `celery -A nsconnect worker` processes on the test
database. Nothing here touches the machine's own Redis or PostgreSQL: a Redis of the test's
own is started and restarted, and PostgreSQL is cut off by a proxy in between.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import OperationalError, connection
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from api import services as api_services
from authentications import tasks
from authentications.models import AccessToken, AuditEvent, HttpAuthentication
from tests.api.consumer import get_token
from tests.conftest import ENCRYPTION_KEY
from tests.test_worker import refreshed, token_of

pytestmark = pytest.mark.django_db(transaction=True)

IN_CI = os.environ.get("CI") == "true"
WAIT_SECONDS = 30
SWEEP = "authentications.tasks.sweep_tokens"
# The worker's HTTP timeouts, short so that its lease (their sum + 10 s) runs out quickly,
# long enough that a test can act while the worker waits on the fake NetSuite.
CONNECT_TIMEOUT, READ_TIMEOUT = 0.5, 3.0
LEASE_SECONDS = CONNECT_TIMEOUT + READ_TIMEOUT + 10
OUTAGE_SECONDS = 3


def wait_for(
    condition: Callable[[], Any], timeout: float = WAIT_SECONDS, what: Callable[[], str] = str
) -> Any:
    """What condition returns once it is true; else fails after timeout, saying what() then."""
    deadline = time.monotonic() + timeout
    while not (outcome := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s: {what()}")
        time.sleep(0.05)
    return outcome


def database_url(port: int | None = None) -> str:
    """The test database as another process opens it (through `port` instead, if given)."""
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        if "memory" in str(database["NAME"]):
            pytest.fail("these tests need a test database that a second process can open")
        return f"sqlite:///{database['NAME']}"
    user = quote(database["USER"]) + (f":{quote(database['PASSWORD'])}" if database["PASSWORD"] else "")
    return f"postgres://{user}@{database['HOST']}:{port or database['PORT']}/{database['NAME']}"


def needs_postgresql() -> None:
    if connection.vendor == "postgresql":
        return
    reason = "needs the test database on PostgreSQL (DATABASE_URL=postgres://...): it cuts PostgreSQL off"
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def filesystem_broker(folder: Path) -> tuple[str, dict[str, str]]:
    """A broker URL and the options nsconnect/settings.py derives from it, for the sender."""
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
    }
    return f"filesystem://{folder}", options


def sender(broker_url: str, transport_options: dict[str, str] | None = None) -> Celery:
    """What beat is to the worker: a long-lived process that publishes the sweep."""
    app = Celery("nsconnect-fault-tests", set_as_current=False)
    app.conf.update(
        broker_url=broker_url,
        broker_transport_options=transport_options or {},
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
    )
    return app


class Worker:
    """`celery -A nsconnect worker` in a process group of its own, on the test database."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as output:
            self.process = subprocess.Popen(  # noqa: S603  (our own worker, fixed arguments)
                [
                    *[sys.executable, "-m", "celery", "-A", "nsconnect", "worker"],
                    *["--pool=solo", "--loglevel=info", "--without-mingle", "--without-gossip"],
                ],
                env=env,
                cwd=settings.BASE_DIR,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return "its log ends:\n" + self.output()[-4000:]

    def kill(self) -> None:
        """SIGKILL to the whole group: nothing of the worker is left, and nothing waits for it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def start_worker(fake_netsuite, tmp_path) -> Iterator[Callable[..., Worker]]:
    """Start workers on the given broker (and database URL); each is killed when the test ends."""
    workers: list[Worker] = []

    def _start(broker_url: str, database: str | None = None) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": database or database_url(),
            "CELERY_BROKER_URL": broker_url,
            "NSCONNECT_ENCRYPTION_KEYS": ENCRYPTION_KEY,
            "NSCONNECT_TOKEN_URL_ALLOWLIST": fake_netsuite.origin,
            "NSCONNECT_HTTP_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
            "NSCONNECT_HTTP_READ_TIMEOUT": str(READ_TIMEOUT),
        }
        env.pop("CELERY_RESULT_BACKEND", None)
        worker = Worker(env, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        return worker

    yield _start
    for worker in workers:
        worker.kill()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A redis-server of the test's own (no persistence), stopped and started on one port."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "needs the redis-server binary on PATH (apt-get install redis-server)"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603  (the redis-server binary, fixed arguments)
            [
                self.binary,
                *["--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
                *["--dir", str(self.folder), "--pidfile", str(self.folder / "redis.pid")],
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(answers, timeout=10, what=lambda: "for redis-server to answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a server that has gone away would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class CuttingProxy:
    """A TCP proxy in front of PostgreSQL that can cut it off: while cut, every connection
    open through it is reset and every new one is reset as it arrives."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.refused = 0
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._pumps: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, name="cutting-proxy", daemon=True)
        self._accepting.start()

    def cut(self) -> None:
        self._cut.set()
        for pump in list(self._pumps):
            pump.join(timeout=5)

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._accepting.join(timeout=5)
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            if self._cut.is_set():
                self.refused += 1
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            pump = threading.Thread(target=self._pump, args=(client, server), daemon=True)
            self._pumps = [p for p in self._pumps if p.is_alive()] + [pump]
            pump.start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        other = {client: server, server: client}
        try:
            while not self._cut.is_set():
                readable, _, _ = select.select([client, server], [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    other[sock].sendall(data)
        except OSError:
            return
        finally:
            _reset(client)
            _reset(server)


@pytest.fixture
def postgresql_proxy() -> Iterator[CuttingProxy]:
    needs_postgresql()
    database = connection.settings_dict
    proxy = CuttingProxy((database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)))
    try:
        yield proxy
    finally:
        proxy.close()


def test_a_worker_reconnects_after_redis_restarts_and_the_next_sweep_refreshes(
    redis_server, start_worker, authentication_in_state, fake_netsuite
):
    """GIVEN a worker and the sender of the sweep on a Redis that is restarted (losing every
    queue and binding) WHEN the worker is back and the next sweep is sent
    THEN the worker refreshes the token that is due, as it did before the restart."""
    authentication = authentication_in_state("Restarted", token_seconds=120)
    before = token_of(authentication)
    beat = sender(redis_server.url)
    worker = start_worker(redis_server.url)

    beat.send_task(SWEEP)
    first = wait_for(lambda: refreshed(authentication, before), what=lambda: f"a refresh; {worker.tail()}")

    redis_server.restart()
    AccessToken.objects.filter(authentication=authentication).update(
        expires_at=timezone.now() + dt.timedelta(seconds=120)
    )

    def worker_answers() -> bool:
        try:
            return bool(beat.control.ping(timeout=0.5))
        except (BrokerError, redis.RedisError, OSError):
            return False

    wait_for(worker_answers, what=lambda: f"the worker back on Redis; {worker.tail()}")
    beat.send_task(SWEEP)
    second = wait_for(
        lambda: refreshed(authentication, first), what=lambda: f"the second refresh; {worker.tail()}"
    )

    assert worker.process.poll() is None
    assert fake_netsuite.issued_tokens == [first.value, second.value]
    assert second.expires_at > timezone.now() + dt.timedelta(minutes=50)


def test_postgresql_refusing_connections_mid_refresh_is_retried_and_leaves_nothing_half_written(
    postgresql_proxy, start_worker, authentication_in_state, fake_netsuite, tmp_path
):
    """GIVEN a worker whose PostgreSQL connections go through a proxy WHEN PostgreSQL is cut off
    for a few seconds while NetSuite answers the sweep's refresh (so the token cannot be stored,
    nor the failure, nor the lease released) THEN the refresh task retries, and once PostgreSQL is
    back it refreshes the token: stored with its expiry, the status clean, no lease left behind,
    the token NetSuite issued during the outage nowhere."""
    authentication = authentication_in_state("Outage", token_seconds=120)
    before = token_of(authentication)
    events_before = AuditEvent.objects.filter(authentication=authentication).count()
    broker_url, options = filesystem_broker(tmp_path / "broker")
    worker = start_worker(broker_url, database_url(port=postgresql_proxy.port))
    fake_netsuite.delay = 2  # under the worker's read timeout: NetSuite answers, after the cut

    sender(broker_url, options).send_task(SWEEP)
    wait_for(lambda: fake_netsuite.requests, what=lambda: f"the worker asking NetSuite; {worker.tail()}")
    postgresql_proxy.cut()
    assert token_of(authentication).value == before.value, "NetSuite answered before the cut: too slow"
    fake_netsuite.delay = 0  # for the next request; the one in flight is answered during the outage
    time.sleep(OUTAGE_SECONDS)  # the outage itself
    postgresql_proxy.restore()
    token = wait_for(
        lambda: refreshed(authentication, before),
        timeout=LEASE_SECONDS + WAIT_SECONDS,
        what=lambda: f"a refresh after the outage; {worker.tail()}",
    )

    assert postgresql_proxy.refused > 0  # the worker met the outage, not just an idle proxy
    assert "retry: Retry in" in worker.output()
    lost, stored = fake_netsuite.issued_tokens
    assert AccessToken.objects.filter(authentication=authentication).count() == 1
    assert token.value == stored != lost
    assert token.expires_at - token.obtained_at == dt.timedelta(seconds=3600)
    row = HttpAuthentication.objects.get(pk=authentication.pk)
    assert (row.lease_owner, row.lease_expires_at) == ("", None)
    assert (row.consecutive_failures, row.last_error, row.next_attempt_at) == (0, "", None)
    assert row.last_success_at == token.obtained_at
    events = list(AuditEvent.objects.filter(authentication=authentication).order_by("pk")[events_before:])
    assert [event.action for event in events] == [AuditEvent.Action.TOKEN_RETRIEVED]
    assert events[0].details["expires_at"] == token.expires_at.isoformat()


def test_a_sweep_that_meets_a_database_error_is_retried_and_gives_up_in_the_end(
    authentication_in_state, monkeypatch
):
    """GIVEN a token due WHEN the sweep's query fails on the database once THEN the sweep is run
    again and enqueues the refresh; WHEN it fails every time THEN the sweep gives up after its
    retries with a short status. (Run eagerly: the retries do not wait out their back-off.)"""
    authentication = authentication_in_state("Swept", token_seconds=120)
    really_due = tasks.due_batches
    attempts: list[int] = []

    def refused(times: int) -> Callable[[], list[list[int]]]:
        def due() -> list[list[int]]:
            attempts.append(1)
            if len(attempts) <= times:
                raise OperationalError("connection refused")
            return really_due()

        return due

    with mock.patch.object(tasks.refresh_tokens, "delay") as delay:
        monkeypatch.setattr(tasks, "due_batches", refused(times=1))
        assert tasks.sweep_tokens.apply().get() == 1
        assert len(attempts) == 2
        delay.assert_called_once_with([authentication.pk], mock.ANY)

        attempts.clear()
        monkeypatch.setattr(tasks, "due_batches", refused(times=100))
        assert tasks.sweep_tokens.apply().get() == "failed: database"
        assert len(attempts) == 1 + tasks.DATABASE_MAX_RETRIES
        delay.assert_called_once()


def deliver_twice_at_once(task_id: str, authentication_id: int) -> list[str]:
    """The same refresh message delivered to two workers at once (say a redelivery after a
    broker's visibility timeout while the first is still running), each with its own connection."""
    barrier = threading.Barrier(2)
    statuses: list[str] = []

    def deliver() -> None:
        try:
            barrier.wait()
            statuses.append(tasks.refresh_token.apply(args=(authentication_id,), task_id=task_id).get())
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)
    return statuses


def test_a_refresh_delivered_twice_asks_netsuite_once(authentication_in_state, fake_netsuite):
    """GIVEN a token due for refresh WHEN the same refresh message is delivered twice at once, and
    once more afterwards THEN NetSuite is asked once, and every delivery ends with that token."""
    authentication = authentication_in_state("Twice", token_seconds=120)
    fake_netsuite.delay = 0.3  # the two deliveries overlap

    statuses = deliver_twice_at_once("refresh-twice", authentication.pk)
    late = tasks.refresh_token.apply(args=(authentication.pk,), task_id="refresh-twice").get()

    token = token_of(authentication)
    assert len(fake_netsuite.requests) == 1
    assert token.value == fake_netsuite.issued_tokens[0]
    # The second finds the first's token, whether it waited for it or came after it.
    assert len(statuses) == 2
    assert set(statuses) <= {f"valid until {token.expires_at.isoformat()}", "not due"}
    assert late == "not due"


def test_a_failing_refresh_delivered_twice_mails_once(authentication_in_state, fake_netsuite, mailoutbox):
    """GIVEN a refresh that has failed twice, due again, and NetSuite still down WHEN the same
    refresh is delivered twice at once, once more afterwards, and its alert mail task twice
    THEN NetSuite is asked once, the failure is counted once, and one alert mail goes out."""
    authentication = authentication_in_state(
        "Failing",
        token_seconds=120,
        consecutive_failures=2,
        failing_since=timezone.now() - dt.timedelta(minutes=3),
        alert_recipients="ops@example.com",
    )
    fake_netsuite.fail_next("service_unavailable", times=3)
    fake_netsuite.delay = 0.3

    statuses = deliver_twice_at_once("failing-twice", authentication.pk)
    late = tasks.refresh_token.apply(args=(authentication.pk,), task_id="failing-twice").get()
    mail_again = tasks.send_refresh_alert.apply(args=(authentication.pk, False)).get()

    assert len(fake_netsuite.requests) == 1
    # The second gets the first's failure, whether it waited for it or came after it (back-off).
    assert "failed: unavailable" in statuses and len(statuses) == 2
    assert set(statuses) <= {"failed: unavailable", "not due"}
    assert late == "not due"
    assert mail_again == "not needed"
    row = HttpAuthentication.objects.get(pk=authentication.pk)
    assert row.consecutive_failures == 3
    assert [message.to for message in mailoutbox] == [["ops@example.com"]]
    assert "Failing" in mailoutbox[0].subject


def test_a_worker_killed_mid_refresh_leaves_a_lease_that_expires_and_consumers_are_served_meanwhile(
    start_worker, authentication_in_state, fake_netsuite, tmp_path, alice, client
):
    """GIVEN a worker killed (SIGKILL) while NetSuite is answering its refresh, its lease left behind
    WHEN a consumer asks the token API meanwhile for the token (under a minute left, still valid)
    THEN it is served that token at once, not made to wait out the dead worker's lease; and once
    the lease has run out, the next sweep refreshes the token and releases the lease.

    The killed worker had taken the message from the queue, so it is lost; that is harmless
    because the sweep enqueues every due authentication again."""
    authentication = authentication_in_state("Killed", token_seconds=120)
    before = token_of(authentication)
    key = api_services.api_client_create(actor=alice, name="Orders ETL", authentications=[authentication]).key
    broker_url, options = filesystem_broker(tmp_path / "broker")
    worker = start_worker(broker_url)
    fake_netsuite.delay = 10  # past the worker's read timeout: it is killed while waiting

    sender(broker_url, options).send_task(SWEEP)
    wait_for(lambda: fake_netsuite.requests, what=lambda: f"the worker asking NetSuite; {worker.tail()}")
    worker.kill()
    fake_netsuite.delay = 0
    row = HttpAuthentication.objects.get(pk=authentication.pk)
    dead_lease = (row.lease_owner, row.lease_expires_at)
    assert row.lease_owner, "the worker's refresh ended before it was killed: too slow"
    assert row.lease_expires_at is not None and row.lease_expires_at > timezone.now()

    # Time has passed: under a minute left, so the API would renew the token, were the lease free.
    AccessToken.objects.filter(authentication=authentication).update(
        expires_at=timezone.now() + dt.timedelta(seconds=45)
    )
    response = get_token(client, authentication.identifier, key)

    assert response.status_code == 200
    assert response.json()["access_token"] == before.value
    assert 30 <= response.json()["expires_in"] <= 45
    row = HttpAuthentication.objects.get(pk=authentication.pk)
    assert (row.lease_owner, row.lease_expires_at) == dead_lease  # still live: it did not wait
    assert len(fake_netsuite.requests) == 1

    with mock.patch.object(tasks.refresh_tokens, "delay") as delay:
        assert tasks.sweep_tokens() == 1
    delay.assert_called_once_with([authentication.pk], mock.ANY)
    status = tasks.refresh_token(authentication.pk)  # waits for the lease to expire, then asks

    token = token_of(authentication)
    assert status == f"valid until {token.expires_at.isoformat()}"
    assert len(fake_netsuite.requests) == 2
    assert token.value == fake_netsuite.issued_tokens[-1] != before.value
    row = HttpAuthentication.objects.get(pk=authentication.pk)
    assert (row.lease_owner, row.lease_expires_at) == ("", None)
