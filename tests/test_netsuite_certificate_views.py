"""The wizard's "Upload to NetSuite" and "Revoke old certificate in NetSuite" buttons and their pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone

from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from tests.conftest import put_in_role
from tests.test_netsuite_certificates import activate, add_pending_key, certificate_requests

pytestmark = pytest.mark.django_db


@pytest.fixture
def authentication(register: Any, create_authentication: Any) -> HttpAuthentication:
    return create_authentication(register("p256"), netsuite_role_id="1031", netsuite_entity_id="5")


@pytest.fixture
def karen_client(client: Any, django_user_model: Any) -> Any:
    """Karen is a key administrator: she may rotate keys."""
    karen = django_user_model.objects.create_user(username="karen", password="x")
    client.force_login(put_in_role(karen, "Key administrators"))
    return client


def wizard(client: Any, authentication: HttpAuthentication) -> str:
    response = client.get(f"/authentications/{authentication.identifier}/rotate/")
    assert response.status_code == 200
    return response.content.decode()


def post(client: Any, authentication: HttpAuthentication, what: str, signing_key: Any) -> Any:
    """Press the button; a revoke is confirmed, as on its confirmation page."""
    confirmed = {"confirmed": "yes"} if what == "revoke" else {}
    return client.post(
        f"/authentications/{authentication.identifier}/rotate/netsuite-{what}/",
        {"signing_key": signing_key.pk, **confirmed},
    )


def test_the_wizard_offers_upload_for_a_pending_key(karen_client, authentication):
    add_pending_key(authentication)
    assert "Upload to NetSuite" in wizard(karen_client, authentication)


def test_without_role_and_entity_the_wizard_says_where_to_enter_them(karen_client, authentication):
    HttpAuthentication.objects.filter(pk=authentication.pk).update(netsuite_role_id="")
    add_pending_key(authentication)
    page = wizard(karen_client, authentication)
    assert "Upload to NetSuite</button>" not in page
    assert "enter the NetSuite role ID and entity ID" in page


def test_upload_shows_the_answer_and_the_certificate_id_read(karen_client, authentication, fake_netsuite):
    pending = add_pending_key(authentication)
    response = post(karen_client, authentication, "upload", pending)
    page = response.content.decode()
    pending.refresh_from_db()
    assert response.status_code == 200
    assert "HTTP 200" in page
    assert pending.certificate_id and pending.certificate_id in page
    assert "stored on the pending key" in page
    assert "&quot;status&quot;: &quot;ACTIVE&quot;" in page  # the answer as it came, escaped
    assert AccessToken.objects.get().value not in page


def test_an_integrator_may_not_upload(alice_client, authentication, fake_netsuite):
    pending = add_pending_key(authentication)
    fake_netsuite.reset()
    assert post(alice_client, authentication, "upload", pending).status_code == 403
    assert fake_netsuite.requests == []
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.NETSUITE_CERTIFICATE_UPLOADED).exists()


def test_a_refused_upload_returns_to_the_wizard_with_the_reason(karen_client, authentication, fake_netsuite):
    HttpAuthentication.objects.filter(pk=authentication.pk).update(scopes="restlets")
    pending = add_pending_key(authentication)
    response = post(karen_client, authentication, "upload", pending)
    assert response.status_code == 302
    assert "rest_webservices scope" in wizard(karen_client, authentication)
    assert certificate_requests(fake_netsuite) == []


def test_after_activation_the_old_certificate_can_be_revoked(karen_client, authentication, fake_netsuite):
    pending = add_pending_key(authentication)
    post(karen_client, authentication, "upload", pending)
    pending.refresh_from_db()
    old = activate(authentication, pending)
    assert "Revoke old certificate in NetSuite" in wizard(karen_client, authentication)

    page = post(karen_client, authentication, "revoke", old).content.decode()

    assert "HTTP 200" in page and "REVOKED" in page
    assert certificate_requests(fake_netsuite)[-1].path.endswith(f"/{old.certificate_id}/revoke")
    assert "Revoked in NetSuite on" in wizard(karen_client, authentication)


def rollback(client: Any, authentication: HttpAuthentication) -> str:
    url = f"/authentications/{authentication.identifier}/rotate/rollback/"
    return client.post(url, {"confirmed": "yes"}, follow=True).content.decode()


def test_a_certificate_revoked_here_is_no_longer_offered_for_rollback(
    karen_client, authentication, fake_netsuite
):
    """GIVEN a rotation whose old certificate karen revoked in NetSuite through nsconnect
    WHEN she opens the wizard and the detail page, and posts a rollback anyway
    THEN neither page offers rollback, the wizard says when it was revoked, and the rollback is
    refused without asking NetSuite (which would answer invalid_client)."""
    pending = add_pending_key(authentication)
    post(karen_client, authentication, "upload", pending)
    pending.refresh_from_db()
    old = activate(authentication, pending)
    assert f"Roll back to {old.certificate_id}" in wizard(karen_client, authentication)

    post(karen_client, authentication, "revoke", old)

    old.refresh_from_db()
    assert old.revoked_at is not None
    page = wizard(karen_client, authentication)
    assert "Roll back to" not in page and "Revoked in NetSuite on" in page
    assert "Revoke old certificate in NetSuite</button>" not in page
    detail = karen_client.get(f"/authentications/{authentication.identifier}/").content.decode()
    assert "Roll back to" not in detail
    asked = len(fake_netsuite.requests)
    assert "no previous key to roll back to" in rollback(karen_client, authentication)
    assert len(fake_netsuite.requests) == asked
    assert authentication.active_key() == pending
    assert not AuditEvent.objects.filter(action__in=["key.rolled_back", "key.verify_failed"]).exists()


def test_a_certificate_already_revoked_is_not_revoked_again(karen_client, authentication, fake_netsuite):
    """GIVEN an old certificate revoked through nsconnect
    WHEN karen posts Revoke for it again
    THEN she is told it was already revoked and NetSuite is not asked."""
    pending = add_pending_key(authentication)
    post(karen_client, authentication, "upload", pending)
    pending.refresh_from_db()
    old = activate(authentication, pending)
    post(karen_client, authentication, "revoke", old)
    revoked_at = SigningKey.objects.get(pk=old.pk).revoked_at
    asked = len(certificate_requests(fake_netsuite))

    response = karen_client.post(
        f"/authentications/{authentication.identifier}/rotate/netsuite-revoke/",
        {"signing_key": old.pk, "confirmed": "yes"},
        follow=True,
    )

    assert "already revoked in NetSuite" in response.content.decode()
    assert len(certificate_requests(fake_netsuite)) == asked
    assert SigningKey.objects.get(pk=old.pk).revoked_at == revoked_at
    assert AuditEvent.objects.filter(action=AuditEvent.Action.NETSUITE_CERTIFICATE_REVOKED).count() == 1


def test_a_revoke_netsuite_refused_keeps_the_rollback(karen_client, authentication, fake_netsuite):
    """GIVEN a rotated authentication
    WHEN NetSuite answers the revoke with 404
    THEN the key is not recorded as revoked and rollback is still offered."""
    pending = add_pending_key(authentication)
    post(karen_client, authentication, "upload", pending)
    pending.refresh_from_db()
    old = activate(authentication, pending)
    fake_netsuite.answer_certificates_next(404, {"title": "Not Found"})

    post(karen_client, authentication, "revoke", old)

    old.refresh_from_db()
    assert old.revoked_at is None
    assert f"Roll back to {old.certificate_id}" in wizard(karen_client, authentication)


def test_upload_records_the_upload_day_and_audits_the_certificate_id(
    karen_client, authentication, fake_netsuite
):
    """GIVEN a pending key with no Certificate ID and no upload day
    WHEN "Upload to NetSuite" succeeds
    THEN the key records that it was uploaded now, and the Certificate ID read from the answer
    leaves a key.certificate_id_set event by karen, without any secret."""
    pending = add_pending_key(authentication)
    before = timezone.now()

    post(karen_client, authentication, "upload", pending)

    pending.refresh_from_db()
    assert pending.uploaded_at is not None and before <= pending.uploaded_at <= timezone.now()
    assert pending.effective_expires_at == SigningKey.effective_expiry(
        pending.not_after, pending.not_before, pending.uploaded_at
    )
    event = AuditEvent.objects.get(action=AuditEvent.Action.KEY_CERTIFICATE_ID_SET)
    assert event.actor_label == "karen"
    assert (event.details["old_certificate_id"], event.details["certificate_id"]) == (
        "",
        pending.certificate_id,
    )
    assert event.details["fingerprint_sha256"] == pending.fingerprint_sha256
    text = json.dumps(event.details)
    assert "PRIVATE" not in text and AccessToken.objects.get().value not in text


def test_an_accepted_upload_records_the_upload_day_even_without_a_certificate_id(
    karen_client, authentication, fake_netsuite
):
    """GIVEN a pending key with no upload day
    WHEN NetSuite accepts the upload but its answer carries no Certificate ID
    THEN the upload day is recorded all the same, and the Certificate ID stays to be entered."""
    pending = add_pending_key(authentication)
    fake_netsuite.answer_certificates_next(200, {"status": "ACTIVE"})

    post(karen_client, authentication, "upload", pending)

    pending.refresh_from_db()
    assert pending.uploaded_at is not None and pending.certificate_id == ""
    event = AuditEvent.objects.get(action=AuditEvent.Action.NETSUITE_CERTIFICATE_UPLOADED)
    assert event.details["upload_day_recorded"] is True


def test_revoke_asks_first_and_changes_nothing_until_confirmed(karen_client, authentication, fake_netsuite):
    """GIVEN a rotation whose old key can still be rolled back to
    WHEN karen presses "Revoke old certificate in NetSuite" (a GET) or posts it without confirming
    THEN she sees the key by Certificate ID and fingerprint, that NetSuite will refuse it and that
    rollback to it ends, and a form to confirm; NetSuite was not asked, nothing was recorded.
    Confirmed, NetSuite revokes it and rollback to it is no longer offered."""
    pending = add_pending_key(authentication)
    post(karen_client, authentication, "upload", pending)
    pending.refresh_from_db()
    old = activate(authentication, pending)
    revoke = f"/authentications/{authentication.identifier}/rotate/netsuite-revoke/"
    assert f'<form method="get" action="{revoke}"' in wizard(karen_client, authentication)
    asked = len(fake_netsuite.requests)
    events = AuditEvent.objects.count()

    for response in (
        karen_client.get(revoke, {"signing_key": old.pk}),
        karen_client.post(revoke, {"signing_key": old.pk}),
    ):
        page = response.content.decode()
        assert response.status_code == 200
        for words in (
            "Revoke the old certificate in NetSuite?",
            old.certificate_id,
            old.fingerprint_sha256,
            "What will happen",
            "What cannot be undone",
            "no longer possible",
            'name="confirmed"',
            "Yes, revoke it in NetSuite",
            f'href="/authentications/{authentication.identifier}/rotate/"',
        ):
            assert words in page, words
    assert len(fake_netsuite.requests) == asked
    assert AuditEvent.objects.count() == events
    old.refresh_from_db()
    assert old.revoked_at is None

    page = karen_client.post(revoke, {"signing_key": old.pk, "confirmed": "yes"}).content.decode()
    assert "HTTP 200" in page and "REVOKED" in page
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert "Roll back to" not in wizard(karen_client, authentication)
