"""The detail page's token status, replaced by the answers of the buttons that make it stale
(Retrieve, Send test request) as an htmx out-of-band swap; and the markup that keeps those
buttons, and the wizard's Verify, from being sent twice."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from authentications.models import AccessToken
from tests.conftest import put_in_role

pytestmark = pytest.mark.django_db

SCRIPT = "js/buttons-that-wait.js"


def detail_url(authentication) -> str:
    return f"/authentications/{authentication.identifier}/"


def valid_until(expires_at: dt.datetime) -> str:
    return f"Valid until {timezone.localtime(expires_at):%Y-%m-%d %H:%M}"


def out_of_band_status(page: str) -> str:
    """The token status the answer sends out of band; fails if there is none, or more than one."""
    found = re.findall(r'<div id="token-status" hx-swap-oob="true">(.*?)</div>', page, re.DOTALL)
    assert len(found) == 1, page
    return found[0]


def test_retrieve_sends_the_new_status_out_of_band(alice_client, authentication_in_state, fake_netsuite):
    authentication = authentication_in_state("Acme ERP", token_seconds=20 * 60)
    old = valid_until(authentication.current_token().expires_at)

    page = alice_client.post(f"{detail_url(authentication)}retrieve-token/", HTTP_HX_REQUEST="true")

    page_text = page.content.decode()
    assert "Access token retrieved, valid until" in page_text
    status = out_of_band_status(page_text)
    new = valid_until(AccessToken.objects.get(authentication=authentication).expires_at)
    assert new != old
    assert new in status
    assert old not in page_text


def test_a_refused_retrieve_sends_the_failing_status_out_of_band(
    alice_client, authentication_in_state, fake_netsuite
):
    authentication = authentication_in_state("Acme ERP", token_seconds=20 * 60)
    fake_netsuite.fail_next("invalid_client")

    page = alice_client.post(f"{detail_url(authentication)}retrieve-token/", HTTP_HX_REQUEST="true")

    status = out_of_band_status(page.content.decode())
    authentication.refresh_from_db()
    assert authentication.last_error
    assert "Failing since" in status
    assert "invalid_client" in status


def test_a_test_request_that_retrieved_a_token_sends_the_new_status_out_of_band(
    alice_client, authentication_in_state, fake_netsuite
):
    authentication = authentication_in_state("Acme ERP")  # no token yet

    page = alice_client.post(
        f"{detail_url(authentication)}test-request/", {"path": ""}, HTTP_HX_REQUEST="true"
    )

    page_text = page.content.decode()
    assert "HTTP 200" in page_text
    status = out_of_band_status(page_text)
    assert valid_until(AccessToken.objects.get(authentication=authentication).expires_at) in status
    assert "None yet" not in status


def test_a_test_request_without_javascript_shows_the_new_status(
    alice_client, authentication_in_state, fake_netsuite
):
    authentication = authentication_in_state("Acme ERP")

    page = alice_client.post(f"{detail_url(authentication)}test-request/", {"path": ""}).content.decode()

    assert "HTTP 200" in page
    assert valid_until(AccessToken.objects.get(authentication=authentication).expires_at) in page
    assert "None yet" not in page
    assert 'hx-swap-oob="true"' not in page


def test_the_forms_retrieve_sends_no_status(alice_client, register, form_data, fake_netsuite):
    page = alice_client.post(
        "/authentications/new/",
        {**form_data(register("p256")), "retrieve_token": "1"},
        HTTP_HX_REQUEST="true",
    ).content.decode()

    assert "Access token retrieved, valid until" in page
    assert "token-status" not in page


def test_the_detail_page_draws_its_status_once_and_its_buttons_wait(alice_client, authentication_in_state):
    authentication = authentication_in_state("Acme ERP", token_seconds=20 * 60)

    page = alice_client.get(detail_url(authentication)).content.decode()

    assert page.count('id="token-status"') == 1
    assert 'hx-swap-oob="true"' not in page
    assert valid_until(authentication.current_token().expires_at) in page
    # The forms send the requests, so the forms disable their buttons and drop a second submit.
    assert page.count('hx-disabled-elt="find button" hx-sync="this:drop"') == 2
    assert "Asking NetSuite for a token" in page
    assert "Sending the request to NetSuite" in page
    assert SCRIPT in page


def test_the_form_and_the_wizard_load_the_script_that_shows_progress(
    alice_client, authentication_in_state, django_user_model
):
    authentication = authentication_in_state("Acme ERP")
    form = alice_client.get("/authentications/new/").content.decode()
    assert SCRIPT in form
    assert "Asking NetSuite for a token" in form
    kim = put_in_role(
        django_user_model.objects.create_user(username="kim", password="x"), "Key administrators"
    )
    alice_client.force_login(kim)
    wizard = alice_client.get(f"{detail_url(authentication)}rotate/").content.decode()
    assert SCRIPT in wizard
