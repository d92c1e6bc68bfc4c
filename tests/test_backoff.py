"""Failures back off, stop when NetSuite says the credentials are wrong, and mail people once."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from authentications.models import AuditEvent, HttpAuthentication
from authentications.services import token_failures, token_single_flight

pytestmark = pytest.mark.django_db(transaction=True)

T0 = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)


@pytest.fixture(autouse=True)
def _no_jitter(monkeypatch):
    monkeypatch.setattr(token_failures, "jitter", lambda: 0.0)


@pytest.fixture
def people(settings, django_user_model):
    """Who hears about failures: staff with an address, the setting's list, the record's own list."""
    django_user_model.objects.create_user("sam", "sam@example.com", "x", is_staff=True)
    django_user_model.objects.create_user("nostaff", "nostaff@example.com", "x")
    settings.NSCONNECT_ALERT_EMAILS = ["ops@example.com"]
    return {"sam@example.com", "ops@example.com", "owner@example.com"}


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def run_sweep_at(seconds: int, authentication_id: int) -> str:
    with time_machine.travel(at(seconds), tick=False):
        return token_single_flight.refresh_scheduled(authentication_id)


def test_failures_back_off_then_recover_with_one_mail_each(
    register, create_authentication, fake_netsuite, people
):
    """GIVEN a record NetSuite answers with 429, 503, 502, 504, then a token
    WHEN the scheduler runs every minute
    THEN it asks at 0, 120, 240, 480 and 960 s only, mails once after the third failure
    and once on recovery."""
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")
    for kind in ["rate_limited", "service_unavailable", "bad_gateway", "gateway_timeout"]:
        fake_netsuite.fail_next(kind)

    asked_at = []
    for minute in range(0, 20):
        before = len(fake_netsuite.requests)
        outcome = run_sweep_at(minute * 60, authentication.pk)
        if len(fake_netsuite.requests) > before:
            asked_at.append(minute * 60)
        else:
            assert outcome == "not due"
        authentication.refresh_from_db()
        if minute == 4:  # after the third failure (at 240 s)
            assert authentication.consecutive_failures == 3
            assert authentication.failing_since == at(0)
            assert authentication.next_attempt_at == at(480)
            assert not authentication.retries_stopped
            assert len(mail.outbox) == 1

    assert asked_at == [0, 120, 240, 480, 960]  # Retry-After 120 s, then 2, 4, 8 minutes
    assert authentication.consecutive_failures == 0
    assert authentication.last_success_at == at(960)
    assert authentication.next_attempt_at is None
    failing, recovered = mail.outbox
    assert set(failing.to) == people and set(recovered.to) == people
    assert failing.subject == "nsconnect: token refresh failing for Acme ERP"
    assert "3 attempts in a row" in failing.body
    assert "http://127.0.0.1:8000/authentications/acme-erp/" in failing.body
    assert recovered.subject == "nsconnect: token refresh works again for Acme ERP"
    assert fake_netsuite.issued_tokens[0] not in f"{failing.body}{recovered.body}"
    sent = AuditEvent.objects.filter(action="alert.sent").order_by("id")
    assert [event.details["email"] for event in sent] == ["refresh_failing", "refresh_recovered"]


def test_wrong_credentials_stop_retries_and_mail_at_once(
    register, create_authentication, fake_netsuite, people
):
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")
    fake_netsuite.fail_next("invalid_client")
    assert run_sweep_at(0, authentication.pk) == "failed: invalid_client"
    authentication.refresh_from_db()
    assert authentication.retries_stopped and authentication.next_attempt_at is None
    assert len(mail.outbox) == 1
    assert "stopped retrying" in mail.outbox[0].body
    # Hours later the scheduler still leaves it alone.
    assert run_sweep_at(6 * 3600, authentication.pk) == "not due"
    assert len(fake_netsuite.requests) == 1


def test_a_changed_record_is_tried_again(
    alice_client, alice, register, create_authentication, form_data, fake_netsuite
):
    registered = register("p256")
    authentication = create_authentication(registered)
    fake_netsuite.fail_next("invalid_scope")
    run_sweep_at(0, authentication.pk)
    with time_machine.travel(at(30), tick=False):
        alice_client.force_login(alice)  # T0 is tomorrow: the session signed in now has expired
        alice_client.post(
            f"/authentications/{authentication.identifier}/edit/", form_data(registered, private_key="")
        )
    authentication.refresh_from_db()
    assert not authentication.retries_stopped
    assert run_sweep_at(60, authentication.pk).startswith("valid until")


def test_server_error_is_an_outage_that_keeps_backing_off(register, create_authentication, fake_netsuite):
    """GIVEN NetSuite answering server_error twice in a row
    WHEN the scheduler runs
    THEN retries go on with a growing back-off: a 5xx does not name the credentials."""
    authentication = create_authentication(register("p256"))
    fake_netsuite.fail_next("server_error", times=2)
    run_sweep_at(0, authentication.pk)
    authentication.refresh_from_db()
    assert not authentication.retries_stopped and authentication.next_attempt_at == at(60)
    run_sweep_at(60, authentication.pk)
    authentication.refresh_from_db()
    assert not authentication.retries_stopped and authentication.next_attempt_at == at(180)
    assert run_sweep_at(180, authentication.pk).startswith("valid until")


def test_back_off_never_exceeds_an_hour():
    assert [token_failures.backoff_delay(n).total_seconds() for n in (1, 2, 3, 6, 7, 20)] == [
        60,
        120,
        240,
        1920,
        3600,
        3600,
    ]


def test_the_detail_page_shows_the_refresh_status(
    alice_client, register, create_authentication, fake_netsuite
):
    authentication = create_authentication(register("p256"))
    fake_netsuite.fail_next("service_unavailable")
    run_sweep_at(0, authentication.pk)
    page = alice_client.get(f"/authentications/{authentication.identifier}/").content.decode()
    assert "Failing since" in page
    assert "(1 attempt)" in page
    assert f"Next attempt {at(60):%Y-%m-%d %H:%M}" in page
    HttpAuthentication.objects.filter(pk=authentication.pk).update(retries_stopped=True)
    page = alice_client.get(f"/authentications/{authentication.identifier}/").content.decode()
    assert "Retries stopped" in page


def test_an_address_mail_cannot_carry_leaves_only_itself_out_of_the_alert(
    register, create_authentication, fake_netsuite, people
):
    """GIVEN a record whose recipients were saved before the form refused addresses that
    mail cannot carry (a zero-width space that leaves an empty label in the domain)
    WHEN its refresh fails
    THEN everybody else still gets the alert."""
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")
    HttpAuthentication.objects.filter(pk=authentication.pk).update(
        alert_recipients="owner@example.com, broken@\u200b.example.com"
    )
    fake_netsuite.fail_next("invalid_client")
    run_sweep_at(0, authentication.pk)
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == people
