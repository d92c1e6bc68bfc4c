"""Editing an authentication: a blank private key keeps the current one."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from tests import keyfactory
from tests.conftest import new_certificate_id

pytestmark = pytest.mark.django_db


def edit_url(authentication: HttpAuthentication) -> str:
    return f"/authentications/{authentication.identifier}/edit/"


def test_the_edit_form_shows_current_values_but_not_the_key(alice_client, register, create_authentication):
    registered = register("p256")
    authentication = create_authentication(registered)
    response = alice_client.get(edit_url(authentication))
    page = response.content.decode()
    assert registered.consumer_key in page
    assert registered.certificate_id in page
    assert registered.certificate_pem.splitlines()[1] in page
    assert registered.private_key_pem.splitlines()[1] not in page
    assert "Leave blank to keep the current key" in page


def test_a_blank_private_key_keeps_the_current_key(alice_client, register, create_authentication, form_data):
    registered = register("p256")
    authentication = create_authentication(registered)
    key = authentication.active_key()
    data = form_data(registered, private_key="", scopes="restlets")
    response = alice_client.post(edit_url(authentication), data)
    assert response.status_code == 302
    authentication.refresh_from_db()
    assert authentication.scopes == "restlets"
    assert list(SigningKey.objects.values_list("pk", "state")) == [(key.pk, "active")]
    assert authentication.active_key().private_key == key.private_key
    event = AuditEvent.objects.filter(action="authentication.update").get()
    assert event.details == {"changed": ["scopes"]}


def may_rotate(user) -> None:
    user.user_permissions.add(Permission.objects.get(codename="rotate_key"))


def test_a_new_key_becomes_a_pending_key_verified_in_the_wizard(
    alice, alice_client, register, create_authentication, form_data
):
    """GIVEN alice may rotate keys
    WHEN she saves the edit form with a new key and certificate and another scope
    THEN the scope is saved, the new key is pending (the old one still active) and she is sent
    to the rotation wizard to verify it."""
    may_rotate(alice)
    old = register("p256")
    authentication = create_authentication(old)
    old_key = authentication.active_key()
    new = register("rsa3072")
    data = form_data(new, consumer_key=old.consumer_key, scopes="restlets")
    response = alice_client.post(edit_url(authentication), data)
    assert response.status_code == 302
    assert response["Location"] == f"/authentications/{authentication.identifier}/rotate/"
    authentication.refresh_from_db()
    assert authentication.scopes == "restlets"
    # PS256 fits the new RSA key, not the active P-256 one: it waits for activation.
    assert authentication.jwt_algorithm == "ES256"
    assert authentication.active_key() == old_key
    pending = authentication.signing_keys.get(state="pending")
    assert (pending.certificate_id, pending.key_type, pending.key_size) == (new.certificate_id, "RSA", 3072)
    assert pending.verified_at is None
    assert SigningKey.objects.filter(state="active").count() == 1
    assert AuditEvent.objects.filter(action="authentication.update").get().details == {"changed": ["scopes"]}
    details = AuditEvent.objects.filter(action="key.added").get().details
    assert details["certificate_id"] == new.certificate_id
    assert "BEGIN" not in str(details)
    assert "Verify the new key" in alice_client.get(response["Location"]).content.decode()


def test_a_new_certificate_id_alone_makes_a_pending_version_with_the_same_key(
    alice, alice_client, register, create_authentication, form_data
):
    may_rotate(alice)
    registered = register("p256")
    authentication = create_authentication(registered)
    old_key = authentication.active_key()
    certificate_id = new_certificate_id()
    response = alice_client.post(
        edit_url(authentication), form_data(registered, private_key="", certificate_id=certificate_id)
    )
    assert response.status_code == 302
    assert authentication.active_key() == old_key
    pending = authentication.signing_keys.get(state="pending")
    assert pending.certificate_id == certificate_id
    assert pending.private_key == old_key.private_key


def test_a_new_key_without_the_rotate_permission_is_refused_at_the_private_key(
    alice_client, register, create_authentication, form_data
):
    """GIVEN alice may change authentications but not rotate keys
    WHEN she posts a new key with the edit form
    THEN the Private key field says why, and nothing changes."""
    old = register("p256")
    authentication = create_authentication(old)
    key = authentication.active_key()
    new = register("p384")
    response = alice_client.post(
        edit_url(authentication), form_data(new, consumer_key=old.consumer_key, scopes="restlets")
    )
    assert response.status_code == 422
    assert "needs the rotate key permission" in " ".join(response.context["form"].errors["private_key"])
    authentication.refresh_from_db()
    assert authentication.scopes == "restlets,rest_webservices"
    assert list(SigningKey.objects.values_list("pk", "state")) == [(key.pk, "active")]
    assert not AuditEvent.objects.filter(action__in=["authentication.update", "key.added"]).exists()


def test_a_bad_edit_changes_nothing(alice_client, register, create_authentication, form_data):
    registered = register("p256")
    authentication = create_authentication(registered)
    key = authentication.active_key()
    other = keyfactory.private_key("p384")
    data = form_data(
        registered,
        scopes="restlets",
        private_key=keyfactory.private_pem(other),
        jwt_algorithm="ES384",
    )
    # The certificate still belongs to the old key.
    response = alice_client.post(edit_url(authentication), data)
    assert response.status_code == 422
    assert "belongs to another key" in " ".join(response.context["form"].errors["certificate"])
    authentication.refresh_from_db()
    assert authentication.scopes == "restlets,rest_webservices"
    assert authentication.jwt_algorithm == "ES256"
    assert list(SigningKey.objects.values_list("pk", "state")) == [(key.pk, "active")]
    assert AuditEvent.objects.filter(action="authentication.update").count() == 0


def test_retrieve_on_the_edit_form_uses_the_stored_key(
    alice_client, register, create_authentication, form_data, fake_netsuite
):
    registered = register("p521")
    authentication = create_authentication(registered)
    data = {**form_data(registered, private_key=""), "retrieve_token": "1"}
    response = alice_client.post(edit_url(authentication), data, HTTP_HX_REQUEST="true")
    assert "Access token retrieved" in response.content.decode()
    assert fake_netsuite.requests[-1].jose_header["kid"] == registered.certificate_id


def test_the_identifier_stays_when_the_name_changes(alice_client, register, create_authentication, form_data):
    registered = register("p256")
    authentication = create_authentication(registered)
    response = alice_client.post(
        edit_url(authentication), form_data(registered, private_key="", name="Acme 2")
    )
    assert response["Location"] == "/authentications/acme-erp/"
    authentication.refresh_from_db()
    assert (authentication.name, authentication.identifier) == ("Acme 2", "acme-erp")


def test_scopes_stored_in_another_order_are_not_an_edit_and_keep_the_token(
    alice_client, authentication_in_state, register, form_data
):
    """GIVEN a record saved with its scopes in another order than the form's boxes (an older
    record, or one saved by a script) and a valid token WHEN only its alert recipients are edited
    THEN the token stays and the audit trail names only the alert recipients."""
    authentication = authentication_in_state(
        "Acme ERP", token_seconds=3600, scopes="rest_webservices,restlets"
    )
    key = authentication.active_key()
    registered = register("p256")
    data = form_data(
        registered,
        private_key="",
        consumer_key=authentication.consumer_key,
        certificate_id=key.certificate_id,
        certificate=key.certificate_pem,
        scopes=["restlets", "rest_webservices"],
        alert_recipients="ops@example.com",
    )

    response = alice_client.post(edit_url(authentication), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert authentication.current_token() is not None
    event = AuditEvent.objects.filter(action="authentication.update").get()
    assert event.details == {"changed": ["alert_recipients"]}
