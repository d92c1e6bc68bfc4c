"""An expiry alert leaves through Django's SMTP backend and arrives at a real SMTP server
on loopback (aiosmtpd), readable as the recipients' mail programs would read it."""

from __future__ import annotations

import datetime as dt
import email
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default

import pytest
import time_machine
from aiosmtpd.controller import Controller

from authentications import tasks
from authentications.models import SigningKey

pytestmark = pytest.mark.django_db(transaction=True)


class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings) -> Iterator[Collector]:
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "nsconnect <nsconnect@example.com>"
    try:
        yield collector
    finally:
        controller.stop()


def test_the_alert_arrives_over_smtp(
    smtp_server, register, create_authentication, settings, django_user_model
):
    django_user_model.objects.create_user("sam", "sam@example.com", "x", is_staff=True)
    settings.NSCONNECT_ALERT_EMAILS = ["ops@example.com"]
    settings.NSCONNECT_BASE_URL = "https://nsconnect.example.com"
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=200)
    SigningKey.objects.filter(authentication=authentication).update(effective_expires_at=expires_at)
    certificate_id = authentication.active_key().certificate_id

    with time_machine.travel(expires_at - dt.timedelta(days=30), tick=False):
        assert tasks.check_certificates() == 1

    (envelope,) = smtp_server.envelopes
    assert sorted(envelope.rcpt_tos) == ["ops@example.com", "owner@example.com", "sam@example.com"]
    message = email.message_from_bytes(envelope.original_content, policy=default)
    assert isinstance(message, EmailMessage)
    assert message["From"] == "nsconnect <nsconnect@example.com>"
    assert {address.strip() for address in message["To"].split(",")} == {
        "sam@example.com",
        "ops@example.com",
        "owner@example.com",
    }
    assert message["Subject"] == (
        f"nsconnect: certificate for Acme ERP expires in 30 days ({expires_at:%Y-%m-%d})"
    )
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert certificate_id in body
        assert "30 days" in body
        assert "https://nsconnect.example.com/authentications/acme-erp/" in body
        assert "https://nsconnect.example.com/authentications/keys/new/" in body
