"""The wizard's "Upload to NetSuite" and "Revoke old certificate in NetSuite" buttons and their pages."""

from __future__ import annotations

from typing import Any

import pytest

from authentications.models import AccessToken, AuditEvent, HttpAuthentication
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
    return client.post(
        f"/authentications/{authentication.identifier}/rotate/netsuite-{what}/",
        {"signing_key": signing_key.pk},
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
