"""Alert mail leaves through a Celery task that retries while the mail server is down: the
caller that failed to get a token only ever sees that failure, and the flag on the record
says what was actually sent, so the alert goes out once the mail server is back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from authentications import emails, tasks
from authentications.models import AuditEvent, HttpAuthentication
from authentications.netsuite import http_exchange
from authentications.services import token_single_flight
from tests.test_smtp_alert import Collector, free_port

pytestmark = pytest.mark.django_db(transaction=True)


class MailServer:
    """An SMTP server on a fixed loopback port that can be down (nothing listens) or up."""

    def __init__(self) -> None:
        self.port = free_port()
        self.collector = Collector()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def subjects(self) -> list[str]:
        return [
            line.split(":", 1)[1].strip()
            for envelope in self.collector.envelopes
            for line in envelope.content.decode().splitlines()
            if line.startswith("Subject:")
        ]


@pytest.fixture
def mail_server(settings: Any, monkeypatch: Any) -> Iterator[MailServer]:
    """Django's SMTP backend pointed at a mail server that starts out down, and Celery running
    tasks in the test process (with their retries) the way CELERY_TASK_ALWAYS_EAGER does."""
    server = MailServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.delattr(tasks.send_refresh_alert, "delay")  # conftest's shortcut: the real delay here
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def enqueued(monkeypatch: Any) -> list[tuple[Any, ...]]:
    """The arguments of every alert task enqueued."""
    calls: list[tuple[Any, ...]] = []
    delay = tasks.send_refresh_alert.delay

    def spy(*args: Any) -> Any:
        calls.append(args)
        return delay(*args)

    monkeypatch.setattr(tasks.send_refresh_alert, "delay", spy)
    return calls


@pytest.fixture
def sends(monkeypatch: Any) -> list[int]:
    """One entry per attempt to send a refresh alert."""
    attempts: list[int] = []
    send = emails.send_refresh_alert

    def counted(authentication_id: int, *, recovered: bool) -> None:
        attempts.append(authentication_id)
        send(authentication_id, recovered=recovered)

    monkeypatch.setattr(emails, "send_refresh_alert", counted)
    return attempts


def fail_once(authentication: HttpAuthentication, fake_netsuite: Any) -> http_exchange.TokenRequestError:
    fake_netsuite.fail_next("service_unavailable")
    with pytest.raises(http_exchange.TokenRequestError) as raised:
        token_single_flight.token_get(authentication=authentication, actor="test", fresh=True)
    return raised.value


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_with_the_mail_server_down_the_caller_sees_only_its_failure_and_the_alert_comes_later(
    mail_server, enqueued, sends, register, create_authentication, fake_netsuite
):
    """GIVEN a mail server that is down
    WHEN token retrieval fails three times in a row
    THEN each caller gets its TokenRequestError and nothing else; the alert task is enqueued
    with the id only, retries, gives up with ALERT_FAILED, and the record does not claim the
    alert went out. WHEN the mail server is back and the next failure comes THEN the alert is
    sent, once; later failures send nothing more, and recovery is announced."""
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")

    errors = [fail_once(authentication, fake_netsuite) for _ in range(3)]

    assert [error.kind for error in errors] == ["unavailable"] * 3
    assert enqueued == [(authentication.pk, False)]
    assert len(sends) == 1 + tasks.ALERT_MAX_RETRIES
    (gave_up,) = events(AuditEvent.Action.ALERT_FAILED)
    assert gave_up.details["email"] == "refresh_failing"
    assert "ConnectionRefusedError" in gave_up.details["error"]
    assert events(AuditEvent.Action.ALERT_SENT) == []
    assert not HttpAuthentication.objects.get(pk=authentication.pk).failure_alert_sent

    mail_server.start()
    fail_once(authentication, fake_netsuite)
    fail_once(authentication, fake_netsuite)

    assert mail_server.subjects == ["nsconnect: token refresh failing for Acme ERP"]
    assert HttpAuthentication.objects.get(pk=authentication.pk).failure_alert_sent
    assert len(events(AuditEvent.Action.ALERT_SENT)) == 1

    token_single_flight.token_get(authentication=authentication, actor="test", fresh=True)
    assert mail_server.subjects == [
        "nsconnect: token refresh failing for Acme ERP",
        "nsconnect: token refresh works again for Acme ERP",
    ]
    assert enqueued == [(authentication.pk, False), (authentication.pk, False), (authentication.pk, True)]


def test_recovery_is_not_announced_when_no_failure_alert_went_out(
    mail_server, enqueued, register, create_authentication, fake_netsuite
):
    """GIVEN three failures whose alert could not be sent (mail server down)
    WHEN the next retrieval works THEN no recovery mail is enqueued: nobody heard of the failure."""
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")
    for _ in range(3):
        fail_once(authentication, fake_netsuite)
    mail_server.start()

    token_single_flight.token_get(authentication=authentication, actor="test", fresh=True)

    assert enqueued == [(authentication.pk, False)]
    assert mail_server.collector.envelopes == []


def test_an_alert_task_run_twice_sends_once(mail_server, register, create_authentication, fake_netsuite):
    """GIVEN a failure alert due and the mail server up
    WHEN the task runs twice (a duplicate delivery) THEN one mail goes out."""
    mail_server.start()
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")
    HttpAuthentication.objects.filter(pk=authentication.pk).update(consecutive_failures=3)

    outcomes = [tasks.send_refresh_alert(authentication.pk, False) for _ in range(2)]

    assert outcomes == ["sent", "not needed"]
    assert len(mail_server.collector.envelopes) == 1


def test_an_alert_for_failures_that_ended_meanwhile_is_not_sent(
    mail_server, register, create_authentication, fake_netsuite
):
    mail_server.start()
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")

    assert tasks.send_refresh_alert(authentication.pk, False) == "not needed"
    assert mail_server.collector.envelopes == []
