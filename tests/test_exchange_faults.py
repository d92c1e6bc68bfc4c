"""Every way an exchange with NetSuite can fail on the wire is a TokenRequestError a person can
act on, and no exchange outlives its total deadline (connect + read timeout).

Against the real fake NetSuite, broken on purpose (tests/fake_netsuite.py TRANSPORT_FAULTS).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import urllib3
from django.utils import timezone

from authentications.netsuite import (
    assertion,
    connections,
    http_exchange,
    rest_request,
    token_request,
    token_urls,
)
from tests.conftest import token_request_error
from tests.fake_netsuite import FakeNetSuite

pytestmark = pytest.mark.django_db


def test_a_truncated_answer_is_a_transient_failure_that_says_it_was_cut_off(credentials, fake_netsuite):
    """GIVEN NetSuite promises 1000 bytes, sends 21 and closes WHEN a token is requested
    THEN the failure says the answer was cut off, and back-off applies (not a crash)."""
    fake_netsuite.fail_next("truncated")
    error = token_request_error(credentials)
    assert error.kind == "interrupted" and error.is_transient
    assert "was cut off" in error.message and "try again later" in error.message
    assert "Could not connect" not in error.message


def test_a_connection_reset_mid_answer_says_so(credentials, fake_netsuite):
    """GIVEN the connection is reset while the answer is being sent WHEN a token is requested
    THEN the failure names the reset."""
    fake_netsuite.fail_next("reset_mid_body")
    error = token_request_error(credentials)
    assert error.kind == "interrupted" and error.is_transient
    assert "was reset while NetSuite was answering" in error.message


def test_a_broken_content_encoding_is_explained(credentials, fake_netsuite):
    """GIVEN an answer that says gzip and is not WHEN a token is requested THEN it is a bad answer."""
    fake_netsuite.fail_next("bad_gzip")
    error = token_request_error(credentials)
    assert error.kind == "bad_response" and error.is_transient
    assert "could not be decoded" in error.message


def test_an_answer_that_stops_mid_body_is_not_called_a_connection_failure(
    credentials, fake_netsuite, settings
):
    """GIVEN NetSuite sends its headers and a few bytes, then nothing WHEN the read timeout passes
    THEN the failure says NetSuite started answering but stopped sending."""
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 0.5
    fake_netsuite.fail_next("never_ends")
    error = token_request_error(credentials)
    assert error.kind == "timeout" and error.is_transient
    assert "started answering but stopped sending for 0.5 seconds" in error.message
    assert "Could not connect" not in error.message


def test_no_answer_at_all_is_a_read_timeout_before_the_headers(credentials, fake_netsuite, settings):
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 0.5
    fake_netsuite.fail_next("timeout")
    error = token_request_error(credentials)
    assert error.kind == "timeout"
    assert "did not answer within 0.5 seconds" in error.message


def test_exchange_deadline_is_the_connect_and_read_timeouts_together(settings):
    settings.NSCONNECT_HTTP_CONNECT_TIMEOUT = 2
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 5.5
    assert http_exchange.exchange_deadline_seconds() == 7.5


@pytest.mark.parametrize("kind", ["trickle", "trickle_headers"])
def test_an_answer_trickling_byte_by_byte_fails_at_the_total_deadline(
    credentials, fake_netsuite, settings, kind
):
    """GIVEN NetSuite sends its answer a byte per 0.3 s (each read well within the read timeout)
    WHEN a token is requested with a 1 s connect and 1.5 s read timeout THEN the request gives up
    at the 2.5 s total deadline with a clear message, not after the whole answer (over a minute)."""
    settings.NSCONNECT_HTTP_CONNECT_TIMEOUT = 1.0
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 1.5
    fake_netsuite.trickle_seconds = 0.3
    fake_netsuite.fail_next(kind)
    started = time.monotonic()
    error = token_request_error(credentials)
    took = time.monotonic() - started
    assert took < http_exchange.exchange_deadline_seconds() + 1.0
    assert error.kind == "timeout" and error.is_transient
    assert "still answering after 2.5 seconds" in error.message


def test_after_a_failed_exchange_the_next_one_works(credentials, fake_netsuite):
    fake_netsuite.fail_next("truncated")
    token_request_error(credentials)
    assert token_request.request_token(credentials, timezone.now()).access_token


# --- send_test_request and the certificate endpoint break the same way -----------------


@pytest.fixture
def token(credentials: assertion.Credentials) -> str:
    return token_request.request_token(credentials, timezone.now()).access_token


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("truncated", "was cut off"),
        ("reset_mid_body", "was reset while NetSuite was answering"),
        ("never_ends", "started answering but stopped sending"),
        ("bad_gzip", "could not be decoded"),
    ],
)
def test_a_test_request_whose_answer_breaks_is_explained(token, fake_netsuite, settings, kind, says):
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 0.5
    fake_netsuite.fail_next(kind, on="record")
    with pytest.raises(http_exchange.TokenRequestError, match=says) as raised:
        rest_request.send_test_request(token_url=fake_netsuite.token_url, access_token=token, path="")
    assert token not in raised.value.message


def test_a_trickling_test_request_fails_at_the_total_deadline(token, fake_netsuite, settings):
    settings.NSCONNECT_HTTP_CONNECT_TIMEOUT = 0.5
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 1.0
    fake_netsuite.trickle_seconds = 0.3
    fake_netsuite.fail_next("trickle", on="record")
    started = time.monotonic()
    with pytest.raises(http_exchange.TokenRequestError, match="still answering after 1.5 seconds"):
        rest_request.send_test_request(token_url=fake_netsuite.token_url, access_token=token, path="")
    assert time.monotonic() - started < 2.5


def test_the_test_request_button_shows_a_broken_answer_instead_of_an_error_page(
    alice_client, register, create_authentication, fake_netsuite
):
    """GIVEN a saved authentication and a REST answer cut off mid-body WHEN "Send test request"
    is pressed THEN the page explains it (HTTP 200 with the message, not a 500)."""
    authentication = create_authentication(register("p256"))
    fake_netsuite.fail_next("truncated", on="record")
    response = alice_client.post(
        f"/authentications/{authentication.identifier}/test-request/", {"path": ""}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "was cut off" in response.content.decode()


@pytest.mark.parametrize("kind", ["truncated", "reset_mid_body", "never_ends"])
def test_a_certificate_upload_whose_answer_breaks_may_have_been_carried_out(
    token, credentials, fake_netsuite, settings, kind
):
    from authentications.netsuite.certificate_endpoint import CertificateEndpointError, add_certificate

    settings.NSCONNECT_HTTP_READ_TIMEOUT = 0.5
    fake_netsuite.fail_next(kind, on="certificates")
    with pytest.raises(CertificateEndpointError) as raised:
        add_certificate(
            token_url=fake_netsuite.token_url,
            access_token=token,
            client_id=credentials.consumer_key,
            certificate_pem="x",
            role_id="3",
            entity_id="4",
        )
    assert isinstance(raised.value, http_exchange.TokenRequestError) and raised.value.is_transient
    assert "may have been carried out" in raised.value.message


def test_a_trickling_certificate_answer_fails_at_the_total_deadline(
    token, credentials, fake_netsuite, settings
):
    from authentications.netsuite.certificate_endpoint import CertificateEndpointError, list_certificates

    settings.NSCONNECT_HTTP_CONNECT_TIMEOUT = 0.5
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 1.0
    fake_netsuite.trickle_seconds = 0.3
    fake_netsuite.fail_next("trickle", on="certificates")
    started = time.monotonic()
    with pytest.raises(CertificateEndpointError, match="still answering after 1.5 seconds"):
        list_certificates(
            token_url=fake_netsuite.token_url, access_token=token, client_id=credentials.consumer_key
        )
    assert time.monotonic() - started < 2.5


# --- over TLS: the deadline reader works on TLS sockets too -------------------------------


@pytest.fixture
def tls_fake_netsuite(settings: Any, monkeypatch: Any) -> Iterator[FakeNetSuite]:
    """A second fake NetSuite serving HTTPS with a certificate for 127.0.0.1 that the session trusts."""
    with FakeNetSuite(tls=True) as fake:
        settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [fake.origin]
        monkeypatch.setattr(connections.http_session(), "verify", fake.certificate_file)
        yield fake


def test_an_answer_over_tls_is_read_through_the_deadline(tls_fake_netsuite):
    answer = rest_request.send_test_request(
        token_url=tls_fake_netsuite.token_url, access_token="not-issued", path=""
    )
    assert answer.status == 401 and "INVALID_LOGIN" in "".join(answer.first_lines)


def test_a_trickling_answer_over_tls_fails_at_the_total_deadline(tls_fake_netsuite, settings):
    settings.NSCONNECT_HTTP_CONNECT_TIMEOUT = 0.5
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 1.0
    tls_fake_netsuite.trickle_seconds = 0.3
    tls_fake_netsuite.fail_next("trickle", on="record")
    started = time.monotonic()
    with pytest.raises(http_exchange.TokenRequestError, match="still answering after 1.5 seconds"):
        rest_request.send_test_request(token_url=tls_fake_netsuite.token_url, access_token="t", path="")
    assert time.monotonic() - started < 2.5


def test_a_truncated_answer_over_tls_is_explained(tls_fake_netsuite):
    tls_fake_netsuite.fail_next("truncated", on="record")
    with pytest.raises(http_exchange.TokenRequestError, match="was cut off") as raised:
        rest_request.send_test_request(token_url=tls_fake_netsuite.token_url, access_token="t", path="")
    assert raised.value.kind == "interrupted"


# --- TLS and failures the fake cannot produce -------------------------------------------


@pytest.fixture
def untrusted_tls_server() -> Iterator[str]:
    """The fake NetSuite over HTTPS with a self-signed certificate nobody trusts: its origin."""
    with FakeNetSuite(tls=True) as fake:
        yield fake.origin


def test_an_untrusted_tls_certificate_is_named(credentials, settings, untrusted_tls_server):
    """GIVEN an allowlisted HTTPS origin whose certificate is not trusted WHEN a token is requested
    THEN the failure says the certificate was not trusted, and nothing was sent."""
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [untrusted_tls_server]
    bad = assertion.Credentials(
        **{**credentials.__dict__, "token_url": untrusted_tls_server + token_urls.TOKEN_PATH}
    )
    error = token_request_error(bad)
    assert error.kind == "tls" and error.is_transient
    assert "was not trusted" in error.message


@pytest.mark.parametrize(
    ("raised", "kind", "says"),
    [
        (requests.ConnectTimeout("x"), "timeout", "Could not connect to 127.0.0.1 within 2 seconds"),
        (requests.ReadTimeout("x"), "timeout", "did not answer within 5 seconds"),
        (requests.exceptions.InvalidURL("x"), "bad_url", "is not valid"),
        (requests.exceptions.InvalidHeader("x"), "bad_request", "not valid HTTP"),
        (urllib3.exceptions.LocationParseError("x"), "bad_url", "is not valid"),
        (requests.exceptions.ChunkedEncodingError("x"), "connection", "127.0.0.1"),
        (requests.exceptions.RetryError("x"), "connection", "failed (RetryError)"),
        (requests.RequestException("x"), "connection", "failed (RequestException)"),
        (OSError("x"), "connection", "failed (OSError)"),
    ],
)
def test_whatever_the_transport_raises_becomes_a_token_request_error(
    credentials, monkeypatch, raised, kind, says
):
    """GIVEN the HTTP library raises any of its errors WHEN a token is requested THEN it is a
    TokenRequestError with a message, never the library's exception."""

    def send(*args: Any, **kwargs: Any) -> None:
        raise raised

    monkeypatch.setattr(connections.http_session(), "send", send)
    error = token_request_error(credentials)
    assert (error.kind, type(error)) == (kind, http_exchange.TokenRequestError)
    assert says in error.message


def test_the_assertion_is_not_in_any_failure_message(credentials, fake_netsuite):
    fake_netsuite.fail_next("truncated")
    error = token_request_error(credentials)
    assert "eyJ" not in str(error) and error.__cause__ is None and error.__suppress_context__
