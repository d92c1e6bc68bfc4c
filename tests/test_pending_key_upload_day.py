"""The rotation wizard's Certificate ID step records the day the new certificate was uploaded
to NetSuite, from which NetSuite counts its two years."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from authentications.forms import upload_day
from authentications.keys.certificates import certificate_facts, load_certificate
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from tests import keyfactory, test_rotation
from tests.conftest import new_certificate_id

pytestmark = pytest.mark.django_db

kim = test_rotation.kim
kim_client = test_rotation.kim_client
url = test_rotation.url
generate_pending = test_rotation.generate_pending


def save_certificate_id(
    client: Any, authentication: HttpAuthentication, pending: SigningKey, **fields: str
) -> Any:
    data = {"signing_key": str(pending.pk), "certificate_id": new_certificate_id(), **fields}
    return client.post(url(authentication, "certificate-id"), data)


def pasted_pending_key(authentication: HttpAuthentication, *, started_days_ago: int, days: int) -> SigningKey:
    """A pending key pasted on the edit form: its certificate began long ago, its upload day unknown."""
    key = keyfactory.private_key("p256", copy=1)
    start = timezone.now() - dt.timedelta(days=started_days_ago)
    facts = certificate_facts(
        load_certificate(keyfactory.certificate_pem(key, days=days, not_before=start)), key
    )
    signing_key = SigningKey.for_certificate(
        facts,
        added_at=timezone.now(),
        uploaded_at=None,
        authentication=authentication,
        certificate_id="pasted-id",
        private_key=keyfactory.private_pem(key),
        state=SigningKey.State.PENDING,
    )
    signing_key.save()
    return signing_key


def test_the_step_asks_the_upload_day_prefilled_with_today_for_a_generated_key(
    kim_client, register, create_authentication
):
    authentication = create_authentication(register("p256"))
    generate_pending(kim_client, authentication)
    page = kim_client.get(url(authentication)).content.decode()
    assert "Uploaded to NetSuite on" in page
    assert f'name="uploaded_on" value="{upload_day.today():%Y-%m-%d}"' in page


def test_the_certificate_id_of_a_generated_key_records_the_day_it_was_uploaded(
    kim_client, kim, register, create_authentication
):
    """GIVEN a key pair generated three days ago for a rotation
    WHEN kim enters its Certificate ID with today's date, as the page suggests
    THEN the key records that it was uploaded to NetSuite today, and the audit event says so."""
    authentication = create_authentication(register("p256"))
    pending = generate_pending(kim_client, authentication)
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)):
        kim_client.force_login(kim)  # three idle days end any session: kim signs in again
        today = upload_day.today()
        response = save_certificate_id(kim_client, authentication, pending, uploaded_on=f"{today:%Y-%m-%d}")
    assert response.status_code == 302
    assert "/login/" not in response["Location"]
    pending.refresh_from_db()
    assert pending.uploaded_at == dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC)
    assert pending.effective_expires_at == SigningKey.effective_expiry(
        pending.not_after, pending.not_before, pending.uploaded_at
    )
    event = AuditEvent.objects.get(action="key.certificate_id_set")
    assert event.details["uploaded_at"] == pending.uploaded_at.isoformat()


def test_without_the_date_field_a_generated_keys_first_certificate_id_means_uploaded_now(
    kim_client, register, create_authentication
):
    authentication = create_authentication(register("p256"))
    pending = generate_pending(kim_client, authentication)
    before = timezone.now()
    save_certificate_id(kim_client, authentication, pending)
    pending.refresh_from_db()
    assert pending.uploaded_at is not None and before <= pending.uploaded_at <= timezone.now()


def test_an_upload_day_left_empty_stays_unknown(kim_client, register, create_authentication):
    """GIVEN a generated pending key
    WHEN kim clears the date and saves the Certificate ID
    THEN the upload day stays unknown: NetSuite's two years are counted from notBefore."""
    authentication = create_authentication(register("p256"))
    pending = generate_pending(kim_client, authentication)
    save_certificate_id(kim_client, authentication, pending, uploaded_on="")
    pending.refresh_from_db()
    assert pending.certificate_id and pending.uploaded_at is None
    assert pending.effective_expires_at == SigningKey.effective_expiry(
        pending.not_after, pending.not_before, None
    )


@pytest.mark.parametrize(
    ("days_from_today", "message"),
    [(1, "This date is in the future"), (-30, "it cannot have been uploaded to NetSuite before")],
)
def test_an_impossible_upload_day_is_refused_at_the_field(
    kim_client, register, create_authentication, days_from_today, message
):
    authentication = create_authentication(register("p256"))
    pending = generate_pending(kim_client, authentication)
    day = upload_day.today() + dt.timedelta(days=days_from_today)
    response = save_certificate_id(kim_client, authentication, pending, uploaded_on=f"{day:%Y-%m-%d}")
    assert response.status_code == 422
    assert message in response.content.decode()
    pending.refresh_from_db()
    assert (pending.certificate_id, pending.uploaded_at) == ("", None)
    assert not AuditEvent.objects.filter(action="key.certificate_id_set").exists()


def test_an_old_certificate_counts_its_two_years_from_the_upload_day_given(
    kim_client, register, create_authentication
):
    """GIVEN a pasted pending key whose three-year certificate began 400 days ago, upload day unknown
    WHEN kim says it was uploaded to NetSuite 300 days ago
    THEN its effective expiry moves from notBefore + 730 days to that day + 730 days."""
    authentication = create_authentication(register("p256"))
    pending = pasted_pending_key(authentication, started_days_ago=400, days=3 * 365)
    assert pending.effective_expires_at == pending.not_before + dt.timedelta(days=730)
    page = kim_client.get(url(authentication)).content.decode()
    assert 'name="uploaded_on" value="' not in page  # unknown: not guessed for a pasted key
    day = upload_day.today() - dt.timedelta(days=300)

    response = save_certificate_id(
        kim_client, authentication, pending, certificate_id="pasted-id", uploaded_on=f"{day:%Y-%m-%d}"
    )

    assert response.status_code == 302
    pending.refresh_from_db()
    uploaded = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    assert pending.uploaded_at == uploaded
    assert pending.effective_expires_at == uploaded + dt.timedelta(days=730) < pending.not_after
    assert pending.verified_at is None and pending.certificate_id == "pasted-id"
