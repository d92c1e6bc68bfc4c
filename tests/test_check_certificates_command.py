"""`python manage.py check_certificates`: the daily check by hand, saying what it sent."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from authentications.models import AuditEvent, SigningKey

pytestmark = pytest.mark.django_db(transaction=True)


def run_command() -> str:
    out = StringIO()
    call_command("check_certificates", stdout=out)
    return out.getvalue()


def test_it_sends_what_is_due_says_so_and_then_has_nothing_to_do(register, create_authentication):
    """GIVEN a certificate 5 days from expiry, never checked
    WHEN the command runs twice THEN the first run mails the 7-day alert and prints one line
    about it; the second prints that nothing was due."""
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    SigningKey.objects.filter(authentication=authentication).update(effective_expires_at=expires_at)
    signing_key = authentication.active_key()

    with time_machine.travel(expires_at - dt.timedelta(days=5), tick=False):
        first = run_command()
        second = run_command()

    assert first.splitlines() == [
        f"Sent the 7-day alert for Acme ERP (certificate ID {signing_key.certificate_id}, "
        f"expires {expires_at:%Y-%m-%d}, 5 days left) to 1 recipient."
    ]
    assert second.splitlines() == ["No certificate alerts were due."]
    (message,) = mail.outbox
    assert message.to == ["owner@example.com"]
    (event,) = AuditEvent.objects.filter(action="alert.sent")
    assert event.actor_label == "command line"
    assert event.details["email"] == "certificate_expiring"


def test_with_nothing_to_watch_it_says_nothing_was_due():
    assert run_command().splitlines() == ["No certificate alerts were due."]
