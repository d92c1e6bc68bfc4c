"""The day a certificate was uploaded to NetSuite (issue 8, hole 12): NetSuite's two years
count from it, or from the certificate's notBefore when nobody says."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from authentications.models import AuditEvent, HttpAuthentication
from authentications.services import key_pairs
from tests import keyfactory

pytestmark = pytest.mark.django_db

NEW = "/authentications/new/"
TWO_YEARS = dt.timedelta(days=730)


def midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


@pytest.fixture
def old_mapping(register: Any) -> Any:
    """A key NetSuite has known for long: its 1000-day certificate started 400 days ago."""
    registered = register("p256")
    not_before = (timezone.now() - dt.timedelta(days=400)).replace(microsecond=0)
    key = keyfactory.private_key("p256")
    certificate = keyfactory.certificate_pem(key, days=1000, not_before=not_before)
    return dataclasses.replace(registered, certificate_pem=certificate), not_before


def detail_page(client: Any) -> str:
    return client.get("/authentications/acme-erp/").content.decode().replace("&#x27;", "'")


def test_without_an_upload_day_the_two_years_count_from_the_certificates_not_before(
    alice_client, old_mapping, form_data
):
    """GIVEN a 1000-day certificate whose notBefore is 400 days ago
    WHEN alice saves it without saying when it was uploaded to NetSuite
    THEN its effective expiry is notBefore + 730 days (330 days from now, not 730), and the detail
    page says the upload day is unknown and counted from notBefore."""
    registered, not_before = old_mapping

    response = alice_client.post(NEW, form_data(registered, uploaded_on=""))

    assert response.status_code == 302
    signing_key = HttpAuthentication.objects.get().active_key()
    assert signing_key.uploaded_at is None
    assert signing_key.effective_expires_at == not_before + TWO_YEARS
    assert signing_key.days_left() == 330
    page = detail_page(alice_client)
    assert "upload day unknown: counted from the certificate's notBefore" in page
    assert f"{(not_before + TWO_YEARS):%Y-%m-%d}" in page


@pytest.mark.parametrize(
    ("days_ago", "cut_by_netsuite"),
    # 300 days ago: cut 430 days from now, before notAfter (600 days from now).
    # 100 days ago: 630 days from now would be after notAfter, so notAfter ends it.
    [(300, True), (100, False)],
)
def test_an_upload_day_counts_the_two_years_from_that_day_and_shows_it(
    alice_client, old_mapping, form_data, days_ago, cut_by_netsuite
):
    """GIVEN the same certificate (notAfter 600 days from now)
    WHEN alice says it was uploaded to NetSuite 300 (or 100) days ago
    THEN its effective expiry is that day + 730 days (or notAfter, when earlier) and the detail page
    shows the day."""
    registered, not_before = old_mapping
    uploaded_on = timezone.now().date() - dt.timedelta(days=days_ago)

    response = alice_client.post(NEW, form_data(registered, uploaded_on=f"{uploaded_on:%Y-%m-%d}"))

    assert response.status_code == 302
    signing_key = HttpAuthentication.objects.get().active_key()
    assert signing_key.uploaded_at == midnight_utc(uploaded_on)
    netsuite_cut = midnight_utc(uploaded_on) + TWO_YEARS
    assert signing_key.effective_expires_at == (netsuite_cut if cut_by_netsuite else signing_key.not_after)
    assert signing_key.is_cut_by_netsuite is cut_by_netsuite
    assert signing_key.not_after == not_before + dt.timedelta(days=1000)
    page = detail_page(alice_client)
    assert f"{uploaded_on:%Y-%m-%d}" in page
    assert f"{signing_key.effective_expires_at:%Y-%m-%d}" in page
    assert "upload day unknown" not in page
    details = AuditEvent.objects.get(action="authentication.create").details
    assert details["signing_key"]["effective_expires_at"] == signing_key.effective_expires_at.isoformat()


@pytest.mark.parametrize(
    ("days_ago", "words"),
    [(-1, "This date is in the future"), (401, "it cannot have been uploaded to NetSuite before that day")],
)
def test_an_upload_day_in_the_future_or_before_the_certificate_starts_is_refused_at_the_field(
    alice_client, old_mapping, form_data, days_ago, words
):
    """GIVEN the same certificate
    WHEN alice gives tomorrow, or a day before the certificate's notBefore, as its upload day
    THEN the field says why and nothing is saved."""
    registered, _not_before = old_mapping
    day = timezone.localdate() - dt.timedelta(days=days_ago)

    response = alice_client.post(NEW, form_data(registered, uploaded_on=f"{day:%Y-%m-%d}"))

    assert response.status_code == 422
    assert words in " ".join(response.context["form"].errors["uploaded_on"])
    assert not HttpAuthentication.objects.exists()


def test_a_generated_key_pair_offers_today_and_its_attached_key_counts_from_the_day_given(
    alice, alice_client, register, form_data
):
    """GIVEN alice generated a key pair in nsconnect (its upload day not known yet)
    WHEN she opens the new authentication page with it, then saves with an upload day
    THEN the page offers today, and the attached key counts NetSuite's two years from the day given."""
    signing_key = key_pairs.key_pair_generate(actor=alice, kind="p256", days=730, common_name="Acme")
    assert signing_key.uploaded_at is None
    page = alice_client.get(f"{NEW}?signing_key={signing_key.pk}").content.decode()
    assert f'value="{timezone.localdate():%Y-%m-%d}"' in page
    registered = register("p256")
    today = timezone.localdate()

    response = alice_client.post(
        NEW,
        form_data(
            registered,
            private_key="",
            certificate="",
            signing_key=str(signing_key.pk),
            uploaded_on=f"{today:%Y-%m-%d}",
        ),
    )

    assert response.status_code == 302, response.context["form"].errors
    signing_key.refresh_from_db()
    assert (signing_key.state, signing_key.authentication.identifier) == ("active", "acme-erp")
    # Uploaded today, but not before the certificate starts (its notBefore is a few minutes ago).
    assert signing_key.uploaded_at is not None
    assert signing_key.uploaded_at == max(midnight_utc(today), signing_key.not_before)
    assert signing_key.effective_expires_at == min(signing_key.not_after, signing_key.uploaded_at + TWO_YEARS)
    # A two-year certificate uploaded on its first day is not cut by NetSuite.
    assert not signing_key.is_cut_by_netsuite


def test_editing_the_upload_day_moves_the_active_keys_expiry_and_is_audited(
    alice_client, old_mapping, form_data
):
    """GIVEN the certificate was saved without an upload day
    WHEN alice edits the record and gives 300 days ago as its upload day, keeping the key
    THEN the active key counts from that day, and the edit's audit event says so."""
    registered, _not_before = old_mapping
    assert alice_client.post(NEW, form_data(registered)).status_code == 302
    authentication = HttpAuthentication.objects.get()
    key_before = authentication.active_key()
    uploaded_on = timezone.now().date() - dt.timedelta(days=300)

    response = alice_client.post(
        "/authentications/acme-erp/edit/",
        form_data(registered, private_key="", uploaded_on=f"{uploaded_on:%Y-%m-%d}"),
    )

    assert response.status_code == 302
    signing_key = authentication.active_key()
    assert signing_key.pk == key_before.pk
    assert signing_key.uploaded_at == midnight_utc(uploaded_on)
    assert signing_key.effective_expires_at == midnight_utc(uploaded_on) + TWO_YEARS
    details = AuditEvent.objects.get(action="authentication.update").details
    assert details == {
        "changed": [],
        "upload_day": {
            "certificate_id": registered.certificate_id,
            "uploaded_at": midnight_utc(uploaded_on).isoformat(),
            "effective_expires_at": signing_key.effective_expires_at.isoformat(),
        },
    }
    edit_page = alice_client.get("/authentications/acme-erp/edit/").content.decode()
    assert f'value="{uploaded_on:%Y-%m-%d}"' in edit_page
