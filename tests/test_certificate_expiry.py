"""Certificate expiry: each threshold is mailed once per key, to the right people, in the right
words, however often or concurrently the daily check runs; expired certificates stop refresh."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection

from authentications import emails, selectors, tasks
from authentications.models import AuditEvent, ExpiryNotice, SigningKey
from authentications.services import expiry_notices, token_single_flight
from tests import keyfactory

pytestmark = pytest.mark.django_db(transaction=True)

# Noon UTC, three months ahead: the walk below stays in the certificate's validity.
EXPIRES = (dt.datetime.now(dt.UTC) + dt.timedelta(days=90)).replace(
    hour=12, minute=0, second=0, microsecond=0
)


def morning(days_left: int) -> dt.datetime:
    """06:00 UTC on the day the key has days_left calendar days left (before noon's expiry)."""
    return (EXPIRES - dt.timedelta(days=days_left)).replace(hour=6)


def check_at(moment: dt.datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return tasks.check_certificates()


@pytest.fixture
def people(settings, django_user_model):
    """Who hears about expiry: staff with an address, the setting's list, the record's own list."""
    django_user_model.objects.create_user("sam", "sam@example.com", "x", is_staff=True)
    django_user_model.objects.create_user("nostaff", "nostaff@example.com", "x")
    django_user_model.objects.create_user("gone", "gone@example.com", "x", is_staff=True, is_active=False)
    django_user_model.objects.create_user("noaddress", "", "x", is_staff=True)
    settings.NSCONNECT_ALERT_EMAILS = ["ops@example.com"]
    return {"sam@example.com", "ops@example.com", "owner@example.com"}


@pytest.fixture
def expiring(register, create_authentication):
    """An authentication whose active key's certificate ends (notAfter) at the given moment."""

    def _make(name: str = "Acme ERP", expires_at: dt.datetime = EXPIRES) -> SigningKey:
        registered = register("p256")
        # The form only takes a certificate in date: one that has ended is made to end later.
        ends_at = max(expires_at, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        starts_at = ends_at - dt.timedelta(days=400)
        certificate = keyfactory.certificate_pem(
            keyfactory.private_key("p256"), not_before=starts_at, days=400
        )
        authentication = create_authentication(
            dataclasses.replace(registered, certificate_pem=certificate),
            name=name,
            alert_recipients="owner@example.com",
        )
        SigningKey.objects.filter(authentication=authentication).update(
            not_after=expires_at, effective_expires_at=expires_at
        )
        return authentication.active_key()

    return _make


def test_a_key_is_mailed_once_at_each_threshold_on_its_way_to_expiry(expiring, people):
    """GIVEN a key expiring at noon on day E
    WHEN the daily check runs (twice each time) at 61, 60, 59, 30, 14, 7, 1, 0 and -1 days left
    THEN one mail goes out at each threshold and at expiry, none in between, none twice."""
    signing_key = expiring()
    sent_per_day = {}
    for days_left in [61, 60, 59, 30, 14, 7, 1, 0, -1]:
        before = len(mail.outbox)
        first = check_at(morning(days_left))
        assert check_at(morning(days_left)) == 0
        assert len(mail.outbox) - before == first
        sent_per_day[days_left] = first

    assert sent_per_day == {61: 0, 60: 1, 59: 0, 30: 1, 14: 1, 7: 1, 1: 1, 0: 1, -1: 0}
    for message in mail.outbox:
        assert set(message.to) == people
    subjects = [message.subject for message in mail.outbox]
    date = f"{EXPIRES:%Y-%m-%d}"
    assert subjects == [
        f"nsconnect: certificate for Acme ERP expires in 60 days ({date})",
        f"nsconnect: certificate for Acme ERP expires in 30 days ({date})",
        f"nsconnect: certificate for Acme ERP expires in 14 days ({date})",
        f"nsconnect: certificate for Acme ERP expires in 7 days ({date})",
        f"nsconnect: certificate for Acme ERP expires in 1 day ({date})",
        f"nsconnect: certificate for Acme ERP expires today ({date})",
    ]
    sent = AuditEvent.objects.filter(action="alert.sent").order_by("id")
    assert [event.details["threshold_days"] for event in sent] == [60, 30, 14, 7, 1, 0]
    assert all(event.details["certificate_id"] == signing_key.certificate_id for event in sent)
    assert all(set(event.details["recipients"]) == people for event in sent)


def test_the_mail_says_what_expires_when_and_what_to_do(expiring, people):
    signing_key = expiring()
    check_at(morning(14))
    (message,) = mail.outbox
    text, html = str(message.body), str(message.alternatives[0][0])
    for body in (text, html):
        assert "Acme ERP" in body
        assert signing_key.certificate_id in body
        assert "14 days" in body
        assert f"{EXPIRES:%Y-%m-%d}" in body
        assert "http://127.0.0.1:8000/authentications/keys/new/" in body
        assert "OAuth 2.0 Client Credentials (M2M) Setup" in body
        assert "new Certificate ID" in body
        assert "rotate the key" in body
        assert "http://127.0.0.1:8000/authentications/acme-erp/" in body
        assert "two-year cut" not in body
    # Never a secret, in the mail or in the audit trail.
    stored = SigningKey.objects.get(pk=signing_key.pk).private_key
    assert "PRIVATE KEY" not in text + html
    assert stored not in text + html
    assert "PRIVATE" not in str(AuditEvent.objects.filter(action="alert.sent").values_list("details"))


def test_a_key_found_already_expired_gets_one_has_expired_mail(expiring, people):
    expiring(expires_at=EXPIRES - dt.timedelta(days=100))
    assert check_at(morning(0)) == 1
    (message,) = mail.outbox
    assert message.subject == (
        f"nsconnect: certificate for Acme ERP has expired ({EXPIRES - dt.timedelta(days=100):%Y-%m-%d})"
    )
    assert "expired for NetSuite on" in message.body
    assert "stopped refreshing" in message.body
    assert check_at(morning(-5)) == 0


def test_a_first_run_five_days_before_expiry_sends_one_mail_then_the_rest_follow(expiring, people):
    """GIVEN a key 5 days from expiry that was never checked (the check is new, or was down)
    WHEN the check runs THEN one mail, the 7-day one, and later the 1-day and expiry ones."""
    signing_key = expiring()
    assert check_at(morning(5)) == 1
    assert mail.outbox[0].subject.startswith("nsconnect: certificate for Acme ERP expires in 5 days")
    assert set(signing_key.expiry_notices.values_list("threshold_days", flat=True)) == {60, 30, 14, 7}
    assert [check_at(morning(days)) for days in (4, 3, 2, 1, 0, -1)] == [0, 0, 0, 1, 1, 0]
    sent = AuditEvent.objects.filter(action="alert.sent").order_by("id")
    assert [event.details["threshold_days"] for event in sent] == [7, 1, 0]


def test_a_mail_that_could_not_leave_is_tried_again_by_the_next_run(expiring, people, monkeypatch):
    expiring()

    def smtp_down(*args, **kwargs):
        raise ConnectionRefusedError("SMTP server down")

    monkeypatch.setattr(emails, "_send", smtp_down)
    assert check_at(morning(30)) == 0
    monkeypatch.undo()
    assert check_at(morning(29)) == 1
    assert "expires in 29 days" in mail.outbox[0].subject


def test_disabled_authentications_are_warned_too_and_retired_keys_are_not(expiring, people):
    signing_key = expiring()
    signing_key.authentication.enabled = False
    signing_key.authentication.save()
    other = expiring(name="Retired ERP")
    SigningKey.objects.filter(pk=other.pk).update(state=SigningKey.State.RETIRED)
    assert check_at(morning(30)) == 1
    assert "Acme ERP" in mail.outbox[0].subject


def test_thresholds_come_from_the_setting(expiring, people, settings):
    settings.NSCONNECT_EXPIRY_ALERT_DAYS = [10, 3]
    expiring()
    assert [check_at(morning(days)) for days in (60, 30, 10, 9, 3, 0)] == [0, 0, 1, 0, 1, 1]


def test_two_checks_at_once_send_nothing_twice(expiring, people, monkeypatch):
    """GIVEN three keys due a mail WHEN six checks run at the same moment, each in its own thread
    with its own database connection THEN each key is mailed once: the unique notice decides."""
    keys = [expiring(name=f"ERP {number}") for number in range(3)]
    threads = 6
    barrier = threading.Barrier(threads)
    crossed = expiry_notices.crossed

    def crossed_together(days_left, levels):
        # Every thread has read the keys before any of them claims one.
        barrier.wait(timeout=30)
        return crossed(days_left, levels)

    monkeypatch.setattr(expiry_notices, "crossed", crossed_together)
    counts: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            counts.append(len(expiry_notices.check_certificates(morning(7))))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors
    assert sum(counts) == 3
    assert sorted(message.subject.split(" expires")[0] for message in mail.outbox) == [
        f"nsconnect: certificate for ERP {number}" for number in range(3)
    ]
    for signing_key in keys:
        assert ExpiryNotice.objects.filter(signing_key=signing_key, threshold_days=7).count() == 1


def test_a_certificate_over_730_days_expires_at_netsuites_cut(
    alice_client, register, create_authentication, people
):
    """GIVEN a certificate valid for 1000 days WHEN it is saved THEN its effective expiry is
    730 days after its notBefore (no upload day was given), the detail page says why, and so does
    the mail."""
    registered = register("p256")
    long_lived = keyfactory.certificate_pem(keyfactory.private_key("p256"), days=1000)
    authentication = create_authentication(
        dataclasses.replace(registered, certificate_pem=long_lived), alert_recipients="owner@example.com"
    )
    signing_key = authentication.active_key()
    assert signing_key.uploaded_at is None
    assert signing_key.effective_expires_at == signing_key.not_before + dt.timedelta(days=730)
    assert signing_key.not_after > signing_key.effective_expires_at + dt.timedelta(days=200)
    page = alice_client.get(f"/authentications/{authentication.identifier}/").content.decode()
    assert "NetSuite cuts certificates to two years" in page
    assert f"{signing_key.effective_expires_at:%Y-%m-%d}" in page

    assert check_at(signing_key.effective_expires_at - dt.timedelta(days=59)) == 1
    (message,) = mail.outbox
    assert f"({signing_key.effective_expires_at:%Y-%m-%d})" in message.subject
    assert "NetSuite's two-year cut" in message.body
    assert f"counted from the certificate's notBefore, {signing_key.not_before:%Y-%m-%d}" in message.body
    assert f"own end date ({signing_key.not_after:%Y-%m-%d})" in message.body


def test_an_expired_certificate_stops_scheduled_refresh(
    alice_client, register, create_authentication, fake_netsuite
):
    """GIVEN an enabled authentication whose certificate expired yesterday and has no token
    WHEN the sweep, the token API and a person look at it THEN NetSuite is not asked and the
    status says the certificate expired; pressing Retrieve still tries."""
    authentication = create_authentication(register("p256"))
    expired_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    SigningKey.objects.filter(authentication=authentication).update(effective_expires_at=expired_at)

    assert authentication.pk not in selectors.authentications_due()
    assert token_single_flight.refresh_scheduled(authentication.pk) == "not due"
    with pytest.raises(
        token_single_flight.TokenUnavailable, match=f"Certificate expired on {expired_at:%Y-%m-%d}"
    ):
        token_single_flight.token_for_consumer(authentication, actor="test")
    assert fake_netsuite.requests == []

    for path in ["/authentications/", f"/authentications/{authentication.identifier}/"]:
        page = alice_client.get(path).content.decode()
        assert f"Certificate expired on {expired_at:%Y-%m-%d}" in page
        assert "None yet" not in page

    token_single_flight.token_get(authentication=authentication, actor="test", fresh=True)
    assert len(fake_netsuite.requests) == 1
