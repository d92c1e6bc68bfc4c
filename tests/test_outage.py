"""A NetSuite outage (server_error, answer after answer) is waited out: retries back off to
an hour and go on, one alert is sent, and the first answer after the outage serves again."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from api import services as api_services
from authentications.models import HttpAuthentication
from authentications.services import token_failures, token_single_flight
from tests.api.consumer import get_token

pytestmark = pytest.mark.django_db(transaction=True)

T0 = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)


@pytest.fixture(autouse=True)
def _no_jitter(monkeypatch):
    monkeypatch.setattr(token_failures, "jitter", lambda: 0.0)


def test_ten_server_errors_never_stop_retries_and_netsuites_recovery_serves_again(
    client, alice, register, create_authentication, fake_netsuite
):
    """GIVEN NetSuite answering server_error ten times in a row
    WHEN the scheduler asks whenever back-off allows
    THEN retries never stop, the wait doubles up to the one-hour cap and stays there, one
    alert is mailed; and when NetSuite answers again the token is stored and served."""
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")
    key = api_services.api_client_create(actor=alice, name="Orders ETL", authentications=[authentication]).key
    fake_netsuite.fail_next("server_error", times=10)

    waits, now = [], T0
    for _ in range(10):
        with time_machine.travel(now, tick=False):
            assert token_single_flight.refresh_scheduled(authentication.pk) == "failed: server_error"
            during = get_token(client, "acme-erp", key)
        row = HttpAuthentication.objects.get(pk=authentication.pk)
        assert not row.retries_stopped
        assert row.next_attempt_at is not None
        assert during.status_code == 503
        assert "retries are stopped" not in during.json()["detail"]
        waits.append(int((row.next_attempt_at - now).total_seconds()))
        now = row.next_attempt_at

    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]
    assert [message.subject for message in mail.outbox] == ["nsconnect: token refresh failing for Acme ERP"]

    with time_machine.travel(now, tick=False):
        assert token_single_flight.refresh_scheduled(authentication.pk).startswith("valid until")
        served = get_token(client, "acme-erp", key)
    assert served.status_code == 200
    assert served.json()["access_token"] == fake_netsuite.issued_tokens[-1]
    assert len(fake_netsuite.requests) == 11
    assert mail.outbox[-1].subject == "nsconnect: token refresh works again for Acme ERP"
