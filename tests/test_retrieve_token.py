"""Pressing "Retrieve an access token key": on the unsaved form and on a saved record."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from authentications.models import AccessToken, AuditEvent, HttpAuthentication
from tests.fake_netsuite import TOKEN_PATH

pytestmark = pytest.mark.django_db

NEW = "/authentications/new/"
# Tomorrow at 09:30 UTC: after the test certificates' notBefore (they start now).
LATER = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
ALL_KINDS = ["rsa3072", "rsa4096", "p256", "p384", "p521"]


def retrieve_url(authentication: HttpAuthentication) -> str:
    return f"/authentications/{authentication.identifier}/retrieve-token/"


@pytest.mark.parametrize(
    ("kind", "algorithm"),
    [
        ("rsa3072", "PS256"),
        ("rsa4096", "PS384"),
        ("rsa4096", "PS512"),
        ("p256", "ES256"),
        ("p384", "ES384"),
        ("p521", "ES512"),
    ],
)
def test_it_retrieves_a_token_with_each_algorithm_before_saving(
    alice_client, register, form_data, fake_netsuite, kind, algorithm
):
    """GIVEN a key NetSuite knows WHEN Retrieve is pressed on the new form THEN NetSuite issues a token."""
    registered = register(kind)
    response = alice_client.post(
        NEW, {**form_data(registered, jwt_algorithm=algorithm), "retrieve_token": "1"}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Access token retrieved, valid until" in page
    assert len(fake_netsuite.issued_tokens) == 1
    assert fake_netsuite.issued_tokens[0] not in page
    # The fake verified the assertion with jwcrypto and recorded what it saw.
    request = fake_netsuite.requests[-1]
    assert request.status == 200
    assert request.jose_header == {"typ": "JWT", "alg": algorithm, "kid": registered.certificate_id}
    # Retrieve saves nothing.
    assert HttpAuthentication.objects.count() == 0
    assert AccessToken.objects.count() == 0


def test_the_assertion_follows_netsuite_exactly(alice_client, alice, register, form_data, fake_netsuite):
    registered = register("p256")
    with time_machine.travel(LATER, tick=False):
        alice_client.force_login(alice)  # a day later the session signed in now has expired
        alice_client.post(NEW, {**form_data(registered), "retrieve_token": "1"})
    request = fake_netsuite.requests[-1]
    assert request.path == TOKEN_PATH
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert "authorization" not in request.headers
    assert sorted(request.form) == ["client_assertion", "client_assertion_type", "grant_type"]
    assert request.form["grant_type"] == ["client_credentials"]
    assert request.form["client_assertion_type"] == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    claims = request.claims
    assert claims["iss"] == registered.consumer_key
    assert claims["scope"] == "restlets,rest_webservices"
    assert claims["aud"] == fake_netsuite.token_url
    assert claims["iat"] == int(LATER.timestamp())
    assert claims["exp"] == claims["iat"] + 300
    assert len(claims["jti"]) == 36


def test_without_javascript_the_page_keeps_the_values_and_shows_the_outcome(
    alice_client, register, form_data, fake_netsuite
):
    registered = register("p384")
    response = alice_client.post(NEW, {**form_data(registered), "retrieve_token": "1"})
    page = response.content.decode()
    assert "Access token retrieved, valid until" in page
    assert registered.consumer_key in page
    assert registered.certificate_id in page
    assert registered.private_key_pem.splitlines()[1] not in page
    # Kept on the server for the form: Save needs no second paste.
    assert "Kept for this form: <strong>EC P-384</strong>" in page


def test_retrieve_lists_what_to_fix_first(alice_client, register, form_data, fake_netsuite):
    registered = register("p256")
    response = alice_client.post(
        NEW, {**form_data(registered, jwt_algorithm="PS256"), "retrieve_token": "1"}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert "Fix these fields first" in page
    assert 'href="#id_jwt_algorithm">JWT algorithm</a>' in page and "choose ES256" in page
    assert fake_netsuite.requests == []


def test_it_retrieves_and_stores_a_token_for_a_saved_record(
    alice_client, alice, register, create_authentication, fake_netsuite
):
    authentication = create_authentication(register("rsa3072"))
    with time_machine.travel(LATER, tick=False):
        alice_client.force_login(alice)  # a day later the session signed in now has expired
        response = alice_client.post(retrieve_url(authentication), follow=True)
    page = response.content.decode()
    assert f"Access token retrieved, valid until {LATER:%Y-%m-%d} 10:30 UTC." in page
    token = AccessToken.objects.get()
    assert token.value == fake_netsuite.issued_tokens[0]
    assert token.value not in page
    assert token.expires_at == LATER + dt.timedelta(hours=1)
    assert token.signing_key == authentication.active_key()
    authentication.refresh_from_db()
    assert authentication.last_success_at == LATER
    event = AuditEvent.objects.filter(action="token.retrieved").get()
    assert event.actor_label == "alice"
    assert event.ip_address == "127.0.0.1"
    assert token.value not in str(event.details)


def test_it_accepts_expires_in_as_a_number(alice_client, register, create_authentication, fake_netsuite):
    fake_netsuite.expires_in = 1800
    authentication = create_authentication(register("p256"))
    alice_client.post(retrieve_url(authentication))
    token = AccessToken.objects.get()
    assert token.expires_at - token.obtained_at == dt.timedelta(seconds=1800)


def test_the_htmx_button_answers_with_the_outcome_only(
    alice_client, register, create_authentication, fake_netsuite
):
    authentication = create_authentication(register("p521"))
    response = alice_client.post(retrieve_url(authentication), HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "<html" not in page
    assert "Access token retrieved, valid until" in page


FAILURES = [
    ("invalid_client", "Check the consumer key, the certificate ID", "Login Audit Trail"),
    ("invalid_scope", "tick them on the integration record", "Login Audit Trail"),
    ("invalid_request", "malformed", "Login Audit Trail"),
    ("invalid_grant", "Client Credentials (Machine to Machine) grant", "Login Audit Trail"),
    ("server_error", "check the certificate ID", "HTTP 500"),
    ("bad_gateway", "could not answer (HTTP 502)", "try again"),
    ("service_unavailable", "could not answer (HTTP 503)", "try again"),
    ("gateway_timeout", "could not answer (HTTP 504)", "try again"),
    ("rate_limited", "limiting requests (HTTP 429)", "Retry after 120 seconds"),
    ("not_json", "not a NetSuite token answer in JSON", "text/html"),
    ("no_token", "without an access_token", "HTTP 200"),
    ("redirect", "redirect (HTTP 302)", "never sends an assertion on"),
    ("timeout", "did not answer within 0.5 seconds", "Try again later"),
    ("huge", "larger than 64 KB", "Check the Authentication URL"),
]


@pytest.mark.parametrize(("kind", "explanation", "detail"), FAILURES)
def test_each_failure_is_explained_and_changes_nothing_stored(
    alice_client, register, create_authentication, fake_netsuite, settings, kind, explanation, detail
):
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 0.5
    authentication = create_authentication(register("p256"))
    alice_client.post(retrieve_url(authentication))
    previous_token = AccessToken.objects.get()
    previous_key = authentication.active_key()

    fake_netsuite.fail_next(kind)
    response = alice_client.post(retrieve_url(authentication), follow=True)

    page = response.content.decode()
    assert explanation in page
    assert detail in page
    token = AccessToken.objects.get()
    assert (token.value, token.expires_at, token.signing_key_id) == (
        previous_token.value,
        previous_token.expires_at,
        previous_token.signing_key_id,
    )
    assert authentication.active_key() == previous_key
    assert authentication.active_key().private_key == previous_key.private_key
    authentication.refresh_from_db()
    assert authentication.consecutive_failures == 1
    assert explanation in authentication.last_error
    failure = AuditEvent.objects.filter(action="token.failed").get()
    assert failure.details["kind"] in {
        kind,
        "timeout",
        "unavailable",
        "bad_response",
        "redirect",
        "rate_limited",
    }


def test_a_failure_on_the_unsaved_form_is_explained(alice_client, register, form_data, fake_netsuite):
    registered = register("p256")
    fake_netsuite.fail_next("invalid_client")
    response = alice_client.post(
        NEW, {**form_data(registered), "retrieve_token": "1"}, HTTP_HX_REQUEST="true"
    )
    assert "did not accept the credentials (invalid_client)" in response.content.decode()


def test_a_certificate_netsuite_does_not_know_is_refused(alice_client, register, form_data, fake_netsuite):
    registered = register("p256")
    response = alice_client.post(
        NEW, {**form_data(registered, certificate_id="unknownCertificateId"), "retrieve_token": "1"}
    )
    assert "invalid_client" in response.content.decode()
    assert fake_netsuite.requests[-1].status == 401


def test_scopes_not_ticked_on_the_integration_record_are_refused(
    alice_client, register, form_data, fake_netsuite
):
    registered = register("p256", scopes=("restlets",))
    response = alice_client.post(
        NEW, {**form_data(registered, scopes="restlets,suite_analytics"), "retrieve_token": "1"}
    )
    assert "invalid_scope" in response.content.decode()


def test_connection_refused_is_explained(alice_client, register, create_authentication, settings):
    # A port nothing listens on: bind one, note it, close it.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    origin = f"http://127.0.0.1:{port}"
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [*settings.NSCONNECT_TOKEN_URL_ALLOWLIST, origin]
    authentication = create_authentication(register("p256"), token_url=f"{origin}{TOKEN_PATH}")
    response = alice_client.post(retrieve_url(authentication), follow=True)
    assert "Could not connect to 127.0.0.1" in response.content.decode()
    assert AccessToken.objects.count() == 0


def test_failures_count_up_and_a_success_clears_them(
    alice_client, register, create_authentication, fake_netsuite
):
    authentication = create_authentication(register("p256"))
    fake_netsuite.fail_next("service_unavailable", times=2)
    first = timezone.now()
    alice_client.post(retrieve_url(authentication))
    alice_client.post(retrieve_url(authentication))
    authentication.refresh_from_db()
    assert authentication.consecutive_failures == 2
    assert authentication.failing_since >= first
    page = alice_client.get("/authentications/").content.decode()
    assert "Failing since" in page and "(2 attempts)" in page
    alice_client.post(retrieve_url(authentication))
    authentication.refresh_from_db()
    assert (authentication.consecutive_failures, authentication.failing_since, authentication.last_error) == (
        0,
        None,
        "",
    )
    assert "Valid until" in alice_client.get("/authentications/").content.decode()


def test_logs_never_hold_the_token_the_assertion_or_the_key(
    alice_client, register, create_authentication, fake_netsuite, caplog
):
    registered = register("rsa3072")
    authentication = create_authentication(registered)
    with caplog.at_level("DEBUG"):
        alice_client.post(retrieve_url(authentication))
        fake_netsuite.fail_next("invalid_client")
        alice_client.post(retrieve_url(authentication))
    logged = caplog.text
    assert "token retrieved for acme-erp" in logged
    assert "invalid_client" in logged
    assert fake_netsuite.issued_tokens[0] not in logged
    for request in fake_netsuite.requests:
        assert request.form["client_assertion"][0] not in logged
    assert registered.private_key_pem.splitlines()[1] not in logged
