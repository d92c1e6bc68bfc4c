"""NetSuite's certificate rotation endpoint: upload a pending key's certificate, revoke a retired one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone

from authentications.forms.authentication import AuthenticationForm
from authentications.keys.certificates import certificate_facts, load_certificate
from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from authentications.netsuite import connections, http_exchange, token_request, token_urls
from authentications.netsuite.certificate_endpoint import (
    CertificateEndpointError,
    add_certificate,
    certificates_host,
    list_certificates,
)
from authentications.services import token_attempt, token_single_flight
from authentications.services.netsuite_certificates import (
    CertificateActionRefused,
    netsuite_certificate_revoke,
    netsuite_certificate_upload,
)
from tests import keyfactory

pytestmark = pytest.mark.django_db

CERTIFICATES_PATH = "/services/rest/auth/oauth2/v1/clients/{}/certificates"


@pytest.fixture
def authentication(register: Any, create_authentication: Any) -> HttpAuthentication:
    """Acme ERP with the rest_webservices scope and the role and entity of its mapping filled in."""
    return create_authentication(register("p256"), netsuite_role_id="1031", netsuite_entity_id="5")


def add_pending_key(authentication: HttpAuthentication, certificate_id: str = "") -> SigningKey:
    """A rotation's new key, as step 1 of the wizard leaves it: no Certificate ID yet."""
    key = keyfactory.private_key("p256", copy=1)
    facts = certificate_facts(load_certificate(keyfactory.certificate_pem(key)), key)
    return SigningKey.objects.create(
        authentication=authentication,
        certificate_id=certificate_id,
        private_key=keyfactory.private_pem(key),
        certificate_pem=facts.certificate_pem,
        key_type=facts.key_type,
        key_size=facts.key_size,
        curve=facts.curve,
        fingerprint_sha256=facts.fingerprint_sha256,
        not_before=facts.not_before,
        not_after=facts.not_after,
        effective_expires_at=SigningKey.effective_expiry(facts.not_after, facts.not_before, None),
        state=SigningKey.State.PENDING,
    )


def certificate_requests(fake_netsuite: Any) -> list[Any]:
    return [r for r in fake_netsuite.requests if "/certificates" in r.path]


def token_with(authentication: HttpAuthentication, signing_key: SigningKey) -> token_request.TokenResponse:
    credentials = token_attempt.credentials_for(authentication, signing_key)
    return token_request.request_token(credentials, timezone.now())


def upload(authentication: HttpAuthentication, pending: SigningKey, alice: Any) -> Any:
    return netsuite_certificate_upload(
        authentication=authentication, signing_key=pending, actor=alice, ip_address="192.0.2.7"
    )


def test_upload_posts_the_certificate_with_the_active_keys_token_and_stores_the_new_id(
    authentication, alice, fake_netsuite
):
    pending = add_pending_key(authentication)
    result = upload(authentication, pending, alice)

    request = certificate_requests(fake_netsuite)[-1]
    assert request.method == "POST"
    assert request.path == CERTIFICATES_PATH.format(authentication.consumer_key)
    token = AccessToken.objects.get(authentication=authentication)
    assert token.signing_key == authentication.active_key()
    assert request.headers["authorization"] == f"Bearer {token.value}"
    assert "cookie" not in request.headers
    assert request.headers["content-type"] == "application/json"

    assert result.answer.ok and result.stored
    assert result.answer.certificate_id_key == "id"
    pending.refresh_from_db()
    assert pending.certificate_id == result.answer.certificate_id
    assert pending.state == SigningKey.State.PENDING  # the wizard verifies, then activates
    assert token_with(authentication, pending).access_token  # NetSuite knows the new certificate


def test_the_body_is_exactly_the_documented_json(authentication, alice, fake_netsuite, monkeypatch):
    pending = add_pending_key(authentication)
    fake_netsuite.answer_certificates_next(200, {"id": "abc"})
    seen: dict[str, Any] = {}
    original = fake_netsuite._answer_certificates

    def spy(h: Any, rec: Any, body: bytes, *args: Any) -> None:
        seen["body"] = json.loads(body)
        original(h, rec, body, *args)

    monkeypatch.setattr(fake_netsuite, "_answer_certificates", spy)
    upload(authentication, pending, alice)
    assert seen["body"] == {"fileContent": pending.certificate_pem, "role": 1031, "entity": 5}


def test_upload_is_audited_with_the_answer_and_no_secret(authentication, alice, fake_netsuite):
    pending = add_pending_key(authentication)
    result = upload(authentication, pending, alice)

    event = AuditEvent.objects.get(action=AuditEvent.Action.NETSUITE_CERTIFICATE_UPLOADED)
    assert event.actor == alice and event.ip_address == "192.0.2.7"
    assert event.details["status"] == 200 and event.details["ok"] is True
    assert event.details["certificate_id"] == result.answer.certificate_id
    assert event.details["certificate_id_stored"] is True
    assert json.loads(event.details["answer"])["id"] == result.answer.certificate_id
    stored = json.dumps(event.details)
    assert AccessToken.objects.get().value not in stored
    assert "PRIVATE KEY" not in stored


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"scopes": "restlets"}, "rest_webservices scope"),
        ({"netsuite_role_id": ""}, "role ID and entity ID"),
        ({"netsuite_entity_id": ""}, "role ID and entity ID"),
    ],
)
def test_upload_is_refused_without_the_scope_or_the_role_and_entity(
    authentication, alice, fake_netsuite, changes, reason
):
    HttpAuthentication.objects.filter(pk=authentication.pk).update(**changes)
    authentication.refresh_from_db()
    pending = add_pending_key(authentication)
    fake_netsuite.reset()
    with pytest.raises(CertificateActionRefused, match=reason):
        upload(authentication, pending, alice)
    assert fake_netsuite.requests == []
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.NETSUITE_CERTIFICATE_UPLOADED).exists()


def test_upload_is_refused_for_a_key_already_verified(authentication, alice, fake_netsuite):
    pending = add_pending_key(authentication, certificate_id="known-id")
    SigningKey.objects.filter(pk=pending.pk).update(verified_at=timezone.now())
    pending.refresh_from_db()
    fake_netsuite.reset()
    with pytest.raises(CertificateActionRefused, match="verified"):
        upload(authentication, pending, alice)
    assert fake_netsuite.requests == []


@pytest.mark.parametrize(
    ("answer", "where"),
    [
        ({"certificateId": "Cert_ID-1"}, "certificateId"),
        ({"certificate_id": "Cert_ID-1"}, "certificate_id"),
        ({"kid": "Cert_ID-1", "id": 77}, "kid"),
        ({"id": 77, "certificate": {"id": "Cert_ID-1"}}, "certificate.id"),
        ({"data": {"certificateId": "Cert_ID-1"}}, "data.certificateId"),
    ],
)
def test_the_new_certificate_id_is_read_wherever_the_answer_puts_it(
    authentication, alice, fake_netsuite, answer, where
):
    pending = add_pending_key(authentication)
    fake_netsuite.answer_certificates_next(200, answer)
    result = upload(authentication, pending, alice)
    assert (result.answer.certificate_id, result.answer.certificate_id_key) == ("Cert_ID-1", where)
    pending.refresh_from_db()
    assert pending.certificate_id == "Cert_ID-1"


@pytest.mark.parametrize(
    ("status", "body", "ctype", "says"),
    [
        (200, {"status": "ACTIVE"}, "application/json", "no Certificate ID nsconnect recognises"),
        (200, {"id": 12345}, "application/json", "no Certificate ID nsconnect recognises"),
        (200, b"<html>Maintenance</html>", "text/html", "not in JSON"),
        (401, {"title": "Unauthorized"}, "application/json", "Manage own OAuth 2.0 Client Credentials"),
        (403, {"title": "Forbidden"}, "application/json", "refused the operation (403)"),
        (404, b"", "text/plain", "2026.1"),
        (500, b"<html>Error</html>", "text/html", "may have been made anyway"),
    ],
)
def test_an_answer_without_a_certificate_id_changes_nothing_and_says_what_to_do(
    authentication, alice, fake_netsuite, status, body, ctype, says
):
    pending = add_pending_key(authentication, certificate_id="typed-by-hand")
    fake_netsuite.answer_certificates_next(status, body, ctype)
    result = upload(authentication, pending, alice)

    assert result.answer.status == status and not result.stored
    assert says in result.answer.explanation
    assert result.answer.certificate_id == ""
    pending.refresh_from_db()
    assert pending.certificate_id == "typed-by-hand"
    event = AuditEvent.objects.get(action=AuditEvent.Action.NETSUITE_CERTIFICATE_UPLOADED)
    assert event.details["status"] == status
    assert event.details["ok"] is (status == 200)
    assert event.details["certificate_id_stored"] is False


def test_the_client_id_echoed_back_is_not_taken_for_a_certificate_id(authentication, alice, fake_netsuite):
    pending = add_pending_key(authentication)
    fake_netsuite.answer_certificates_next(200, {"id": authentication.consumer_key})
    assert upload(authentication, pending, alice).answer.certificate_id == ""


def test_a_token_nobody_issued_is_refused_with_the_permission_to_look_for(authentication, fake_netsuite):
    answer = add_certificate(
        token_url=authentication.token_url,
        access_token="not-a-token",  # noqa: S106
        client_id=authentication.consumer_key,
        certificate_pem="x",
        role_id="3",
        entity_id="4",
    )
    assert answer.status == 401
    assert "Manage own OAuth 2.0 Client Credentials certificates" in answer.explanation
    assert "not-a-token" not in answer.raw


def test_no_cookie_goes_with_the_token_even_when_the_session_holds_one(authentication, alice, fake_netsuite):
    session = connections.http_session()
    session.cookies.set("NS_ROUTING_VERSION", "LAGGING")
    try:
        upload(authentication, add_pending_key(authentication), alice)
    finally:
        session.cookies.clear()
    assert "cookie" not in certificate_requests(fake_netsuite)[-1].headers


def test_a_timeout_is_explained_and_audited(authentication, alice, fake_netsuite, settings):
    pending = add_pending_key(authentication)
    token_single_flight.token_get(authentication=authentication, actor="test")  # before NetSuite slows down
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 0.3
    fake_netsuite.delay = 1.0
    with pytest.raises(CertificateEndpointError, match="may have been carried out"):
        upload(authentication, pending, alice)
    pending.refresh_from_db()
    assert pending.certificate_id == ""
    event = AuditEvent.objects.get(action=AuditEvent.Action.NETSUITE_CERTIFICATE_UPLOADED)
    assert event.details["ok"] is False and "did not answer" in event.details["error"]


def test_list_shows_the_certificates_of_the_client(authentication, alice, fake_netsuite):
    result = upload(authentication, add_pending_key(authentication), alice)
    token = AccessToken.objects.get().value
    answer = list_certificates(
        token_url=authentication.token_url, access_token=token, client_id=authentication.consumer_key
    )
    ids = {item["id"] for item in answer.payload["items"]}
    assert ids == {authentication.active_key().certificate_id, result.answer.certificate_id}
    assert fake_netsuite.requests[-1].method == "GET"


def activate(authentication: HttpAuthentication, pending: SigningKey) -> SigningKey:
    """What the wizard's Activate does, in short: the old key retired, a token from the new one."""
    old = authentication.active_key()
    assert old is not None
    SigningKey.objects.filter(pk=old.pk).update(state=SigningKey.State.RETIRED, retired_at=timezone.now())
    SigningKey.objects.filter(pk=pending.pk).update(state=SigningKey.State.ACTIVE)
    AccessToken.objects.filter(authentication=authentication).delete()
    old.refresh_from_db()
    return old


def test_revoke_posts_to_the_revoke_path_and_netsuite_then_refuses_the_old_certificate(
    authentication, alice, fake_netsuite
):
    pending = add_pending_key(authentication)
    upload(authentication, pending, alice)
    pending.refresh_from_db()
    old = activate(authentication, pending)

    answer = netsuite_certificate_revoke(authentication=authentication, signing_key=old, actor=alice)

    assert answer.ok
    request = certificate_requests(fake_netsuite)[-1]
    assert request.method == "POST"
    assert (
        request.path
        == CERTIFICATES_PATH.format(authentication.consumer_key) + f"/{old.certificate_id}/revoke"
    )
    assert request.headers["authorization"] == f"Bearer {AccessToken.objects.get().value}"
    with pytest.raises(http_exchange.TokenRequestError) as refused:
        token_with(authentication, old)
    assert refused.value.kind == "invalid_client"
    assert token_with(authentication, pending).access_token
    event = AuditEvent.objects.get(action=AuditEvent.Action.NETSUITE_CERTIFICATE_REVOKED)
    assert event.actor == alice
    assert event.details["certificate_id"] == old.certificate_id
    assert event.details["status"] == 200 and event.details["ok"] is True
    assert AccessToken.objects.get().value not in json.dumps(event.details)


def test_revoke_is_refused_for_the_active_or_pending_key(authentication, alice, fake_netsuite):
    pending = add_pending_key(authentication, certificate_id="new-id")
    for signing_key in (authentication.active_key(), pending):
        with pytest.raises(CertificateActionRefused, match="retired"):
            netsuite_certificate_revoke(authentication=authentication, signing_key=signing_key, actor=alice)
    assert certificate_requests(fake_netsuite) == []


def test_certificates_host_is_the_accounts_restlets_host():
    token_url = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
    assert certificates_host(token_url) == "https://1234567-sb1.restlets.api.netsuite.com"


def test_an_allowlisted_origin_stands_in_for_the_restlets_host(fake_netsuite):
    assert certificates_host(fake_netsuite.token_url) == fake_netsuite.origin


def test_certificates_host_refuses_other_hosts():
    with pytest.raises(token_urls.ProtocolValueError):
        certificates_host("https://example.com/services/rest/auth/oauth2/v1/token")


@pytest.mark.parametrize(("value", "valid"), [("1031", True), ("", True), ("-5", False), ("3a", False)])
def test_the_form_takes_role_and_entity_ids_as_digits(register, form_data, value, valid):
    data = form_data(register("p256"), netsuite_role_id=value, netsuite_entity_id=value)
    form = AuthenticationForm(data=data)
    assert form.is_valid() is valid
    assert form.fields["netsuite_role_id"].label == "NetSuite role ID"
    assert form.fields["netsuite_entity_id"].label == "NetSuite entity ID"
    names = list(form.fields)
    after = names.index("alert_recipients")
    assert names[after + 1 : after + 3] == ["netsuite_role_id", "netsuite_entity_id"]


def test_the_answer_is_shown_and_audited_without_its_secrets(authentication, alice, fake_netsuite):
    """GIVEN the certificate endpoint answers with secret-looking fields (a token, a client secret,
    a JWT, a private key) WHEN the upload's answer is shown (pretty) and audited THEN none of them
    appears, and the Certificate ID is still read from it."""
    pending = add_pending_key(authentication)
    jwt_like = "eyJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz"
    secrets = {
        "access_token": "leaked-access-token-value",
        "client_secret": "leaked-client-secret",
        "note": f"signed with {jwt_like}",
        "privateKey": "-----BEGIN PRIVATE KEY-----\nMIIBleaked\n-----END PRIVATE KEY-----",
    }
    fake_netsuite.answer_certificates_next(200, {"id": "Cert_ID-1", "certificate": secrets})

    result = upload(authentication, pending, alice)

    shown = result.answer.pretty()
    audited = json.dumps(
        AuditEvent.objects.get(action=AuditEvent.Action.NETSUITE_CERTIFICATE_UPLOADED).details
    )
    for leaked in (
        "leaked-access-token-value",
        "leaked-client-secret",
        jwt_like,
        "MIIBleaked",
        "PRIVATE KEY",
    ):
        assert leaked not in shown
        assert leaked not in audited
    assert "[removed]" in shown and "Cert_ID-1" in shown
    assert result.answer.certificate_id == "Cert_ID-1"


def test_the_bearer_token_echoed_back_is_never_shown(authentication, fake_netsuite):
    token_single_flight.token_get(authentication=authentication, actor="test")
    token = AccessToken.objects.get().value
    fake_netsuite.answer_certificates_next(200, {"echo": token, "items": [token]})
    answer = list_certificates(
        token_url=authentication.token_url, access_token=token, client_id=authentication.consumer_key
    )
    assert token not in answer.pretty() and token not in answer.raw
    assert token not in json.dumps(answer.payload)
