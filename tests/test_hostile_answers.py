"""Answers no NetSuite sends, from a token URL that misbehaves or was taken over: a token said to
live for ever, JSON nested past the recursion limit, a token with a header in it. Each is a
refusal with a message a person can act on, never a 500 page, never a token stored.

Against the real fake NetSuite (tests/fake_netsuite.py), scripted to answer so.
"""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest
import time_machine
from django.utils import timezone

from authentications.models import AccessToken, HttpAuthentication
from authentications.netsuite import token_request
from authentications.netsuite.certificate_endpoint import list_certificates
from authentications.services import token_single_flight
from tests.conftest import token_request_error

pytestmark = pytest.mark.django_db

NEW = "/authentications/new/"
HUGE_EXPIRES_IN = "99999999999999999999"
THIRTY_ONE_YEARS = 10**9
# Under the 64 KB answer cap, far over the recursion limit of any JSON parser written in Python.
DEEP_JSON = b"[" * 60_000
HEADER_IN_TOKEN = "abc\r\nX-Injected: 1"


def token_answer(access_token: str) -> dict[str, str]:
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": "3600"}


def retrieve_url(authentication: HttpAuthentication) -> str:
    return f"/authentications/{authentication.identifier}/retrieve-token/"


# --- expires_in ------------------------------------------------------------------------


@pytest.mark.parametrize("expires_in", [HUGE_EXPIRES_IN, THIRTY_ONE_YEARS, 86_401])
def test_it_refuses_a_token_said_to_live_longer_than_a_day(credentials, fake_netsuite, expires_in):
    """GIVEN the token URL answers 200 with an expires_in beyond a day (NetSuite always says 3600)
    WHEN a token is requested THEN it is a bad answer that says why, not an overflow."""
    fake_netsuite.expires_in = expires_in

    error = token_request_error(credentials)

    assert error.kind == "bad_response"
    assert "more than 86400 seconds (a day)" in error.message
    assert "NetSuite's live 3600 seconds" in error.message


@pytest.mark.parametrize("expires_in", ["86400", 86_400, 3600, "60"])
def test_it_still_accepts_an_expires_in_up_to_a_day_as_a_string_or_a_number(
    credentials, fake_netsuite, expires_in
):
    """GIVEN expires_in a day or less, as a string or a number WHEN a token is requested THEN it is taken."""
    fake_netsuite.expires_in = expires_in

    response = token_request.request_token(credentials, timezone.now())

    assert response.expires_in == int(expires_in)


@pytest.mark.parametrize("expires_in", [1, "59"])
def test_it_refuses_a_token_said_to_live_less_than_a_minute(credentials, fake_netsuite, expires_in):
    """GIVEN expires_in under a minute WHEN a token is requested THEN it is a bad answer: such a
    token could never be served, and every call would ask NetSuite again."""
    fake_netsuite.expires_in = expires_in

    error = token_request_error(credentials)

    assert error.kind == "bad_response"
    assert "less than a minute" in error.message


@pytest.mark.parametrize("expires_in", ["soon", None, 3600.5, "9" * 5000])
def test_it_still_refuses_an_expires_in_that_is_not_a_number(credentials, fake_netsuite, expires_in):
    fake_netsuite.expires_in = expires_in

    error = token_request_error(credentials)

    assert error.kind == "bad_response"
    assert "not a number of seconds" in error.message


@pytest.mark.parametrize("expires_in", ["0", -5, "-99999999999999999999"])
def test_it_refuses_a_token_said_to_live_zero_seconds_or_less(credentials, fake_netsuite, expires_in):
    """GIVEN expires_in zero or negative WHEN a token is requested THEN the refusal says the
    token would be expired on arrival (not that the number is no number)."""
    fake_netsuite.expires_in = expires_in

    error = token_request_error(credentials)

    assert error.kind == "bad_response"
    assert "zero seconds or less (a negative expires_in): it would be expired on arrival" in error.message


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_the_forms_retrieve_button_explains_a_huge_expires_in(
    alice_client, register, form_data, fake_netsuite, htmx
):
    """GIVEN the token URL answers expires_in 99999999999999999999
    WHEN Retrieve is pressed on the form (with or without JavaScript)
    THEN the page says why the token was refused: no 500, nothing saved."""
    fake_netsuite.expires_in = HUGE_EXPIRES_IN
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    response = alice_client.post(NEW, {**form_data(register("p256")), "retrieve_token": "1"}, **headers)

    page = response.content.decode()
    assert response.status_code == 200
    assert "more than 86400 seconds (a day)" in page
    assert "unexpected error" not in page
    assert fake_netsuite.issued_tokens and fake_netsuite.issued_tokens[0] not in page
    assert AccessToken.objects.count() == 0


def test_a_saved_records_retrieve_stores_no_token_that_would_never_be_refreshed(
    alice_client, register, create_authentication, fake_netsuite
):
    """GIVEN a saved record whose token URL answers expires_in of 10**9 seconds (31 years)
    WHEN Retrieve is pressed on its page THEN no token is stored and the page says why."""
    authentication = create_authentication(register("p256"))
    fake_netsuite.expires_in = THIRTY_ONE_YEARS

    response = alice_client.post(retrieve_url(authentication), follow=True)

    assert "more than 86400 seconds (a day)" in response.content.decode()
    assert AccessToken.objects.count() == 0
    authentication.refresh_from_db()
    assert authentication.last_error_kind == "bad_response"


# --- JSON nested past the recursion limit -------------------------------------------------


def test_it_refuses_json_nested_past_the_recursion_limit_as_not_a_token_answer(credentials, fake_netsuite):
    """GIVEN the token URL answers 200 with "[" * 60000 (under 64 KB)
    WHEN a token is requested THEN it is a bad answer ("not JSON"), not a RecursionError."""
    fake_netsuite.answer_token_next(200, DEEP_JSON)

    error = token_request_error(credentials)

    assert error.kind == "bad_response"
    assert "not a NetSuite token answer in JSON" in error.message


def test_it_refuses_a_token_answer_wrapped_in_needlessly_deep_json(credentials, fake_netsuite):
    """GIVEN a 200 answer that parses but nests 500 levels deep WHEN a token is requested
    THEN it is not read as a token answer (walking it could exhaust the recursion limit)."""
    deep = b'{"access_token": "abc", "expires_in": "3600", "x": ' + b"[" * 500 + b"]" * 500 + b"}"
    fake_netsuite.answer_token_next(200, deep)

    error = token_request_error(credentials)

    assert error.kind == "bad_response"


def test_the_forms_retrieve_button_explains_deeply_nested_json(
    alice_client, register, form_data, fake_netsuite
):
    fake_netsuite.answer_token_next(200, DEEP_JSON)

    response = alice_client.post(
        NEW, {**form_data(register("p256")), "retrieve_token": "1"}, HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert "not a NetSuite token answer in JSON" in page
    assert "RecursionError" not in page


def test_a_certificate_endpoint_answer_nested_past_the_recursion_limit_is_kept_as_text(
    register, create_authentication, fake_netsuite
):
    """GIVEN the certificate endpoint answers "[" * 60000 WHEN the certificates are listed
    THEN the answer is shown as text (not JSON), not a RecursionError."""

    authentication = create_authentication(register("p256"))
    token = token_single_flight.token_get(authentication=authentication, actor="test").value
    fake_netsuite.answer_certificates_next(200, DEEP_JSON)

    answer = list_certificates(
        token_url=authentication.token_url, access_token=token, client_id=authentication.consumer_key
    )

    assert answer.payload is None
    assert answer.raw.startswith("[[[")
    assert "not in JSON" in answer.explanation


# --- the token itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    "access_token",
    [HEADER_IN_TOKEN, "abc def", "abc\tdef", "abc\x00def", "abcdéf"],
    ids=["crlf-header", "space", "tab", "nul", "non-ascii"],
)
def test_it_refuses_a_token_that_could_not_travel_in_an_authorization_header(
    credentials, fake_netsuite, access_token
):
    """GIVEN the token URL answers 200 with a token holding a line break, a space, a control or
    a non-ASCII character WHEN a token is requested THEN it is refused, and the message does not
    quote it."""
    fake_netsuite.answer_token_next(200, token_answer(access_token))

    error = token_request_error(credentials)

    assert error.kind == "bad_response"
    assert "no NetSuite token has and no HTTP header may carry" in error.message
    assert access_token not in error.message and "X-Injected" not in error.message


def test_it_refuses_a_token_of_60_kb(credentials, fake_netsuite):
    """GIVEN the token URL answers 200 with a 60 KB token (under the 64 KB answer cap)
    WHEN a token is requested THEN it is refused for its length."""
    fake_netsuite.answer_token_next(200, token_answer("a" * 60 * 1024))

    error = token_request_error(credentials)

    assert error.kind == "bad_response"
    assert "access token of 61440 characters" in error.message
    assert "over 16384" in error.message


def test_it_accepts_a_token_of_printable_ascii_up_to_the_limit(credentials, fake_netsuite):
    printable = "".join(chr(code) for code in range(0x21, 0x7F))
    token = (printable * 200)[: token_request.MAX_ACCESS_TOKEN_CHARS]
    fake_netsuite.answer_token_next(200, token_answer(token))

    assert token_request.request_token(credentials, timezone.now()).access_token == token


def test_a_token_with_a_header_in_it_is_never_stored(
    alice_client, register, create_authentication, fake_netsuite
):
    """GIVEN a saved record whose token URL answers a token with "\\r\\nX-Injected: 1" in it
    WHEN Retrieve is pressed on its page THEN no token is stored (so none is ever served or
    sent as a bearer), and the page says why."""
    authentication = create_authentication(register("p256"))
    fake_netsuite.answer_token_next(200, token_answer(HEADER_IN_TOKEN))

    response = alice_client.post(retrieve_url(authentication), follow=True)

    page = response.content.decode()
    assert "no NetSuite token has and no HTTP header may carry" in page
    assert "X-Injected" not in page
    assert AccessToken.objects.count() == 0


# --- Retry-After -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "retry_after",
    ["\u00b2", "\u00b9\u00b2\u00b3", "soon", "Mon, 99 Foo 99999 99:99:99 GMT", "-5", "0", ""],
    ids=[
        "superscript-two",
        "superscripts",
        "word",
        "broken-date",
        "negative",
        "zero",
        "empty",
    ],
)
def test_a_retry_after_that_means_nothing_is_no_retry_after(credentials, fake_netsuite, retry_after):
    """GIVEN a 429 whose Retry-After is no number of seconds nor a date in the future (headers
    arrive as Latin-1, where "\u00b2" passes str.isdigit() and then fails int())
    WHEN a token is requested THEN it is a rate limit without a wait, not an unexpected error."""
    fake_netsuite.retry_after = retry_after
    fake_netsuite.fail_next("rate_limited")

    error = token_request_error(credentials)

    assert (error.kind, error.retry_after) == ("rate_limited", None)
    assert error.message == "NetSuite is limiting requests (HTTP 429). Try again in a few minutes."


@pytest.mark.parametrize(
    ("retry_after", "seconds"),
    [
        ("300", 300),
        ("0300", 300),
        ("99999999999", token_request.MAX_RETRY_AFTER_SECONDS),
        # past int()'s 4300 digits: read as "very long", not as an unexpected error
        ("9" * 5000, token_request.MAX_RETRY_AFTER_SECONDS),
        # many leading zeros are still the small number they write
        ("0" * 20 + "30", 30),
    ],
    ids=["seconds", "leading-zero", "eleven-digits", "5000-digits", "many-leading-zeros"],
)
def test_a_retry_after_in_seconds_is_read_and_capped_at_a_day(
    credentials, fake_netsuite, retry_after, seconds
):
    fake_netsuite.retry_after = retry_after
    fake_netsuite.fail_next("rate_limited")

    error = token_request_error(credentials)

    assert error.retry_after == seconds
    assert f"Retry after {seconds} seconds." in error.message


def test_a_retry_after_given_as_a_date_is_the_seconds_until_then(credentials, fake_netsuite):
    """GIVEN a 429 with Retry-After as an HTTP date (RFC 9110 allows it) ten minutes ahead
    WHEN a token is requested THEN it is read as the ten minutes until then."""
    in_ten_minutes = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=10)
    fake_netsuite.retry_after = email.utils.format_datetime(in_ten_minutes, usegmt=True)
    fake_netsuite.fail_next("rate_limited")

    with time_machine.travel(in_ten_minutes - dt.timedelta(minutes=10), tick=False):
        error = token_request_error(credentials)

    assert error.retry_after == 600
