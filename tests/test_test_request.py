""" "Send test request": the current token against a NetSuite REST resource."""

from __future__ import annotations

import pytest

from authentications.models import AccessToken

pytestmark = pytest.mark.django_db


def url(authentication) -> str:
    return f"/authentications/{authentication.identifier}/test-request/"


def test_it_calls_the_metadata_catalog_with_the_bearer_token(
    alice_client, register, create_authentication, fake_netsuite
):
    authentication = create_authentication(register("p256"))
    response = alice_client.post(url(authentication), {"path": ""}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "HTTP 200" in page
    assert "The token works" in page
    assert "salesorder" in page
    request = fake_netsuite.requests[-1]
    assert request.path == "/services/rest/record/v1/metadata-catalog"
    assert request.headers["authorization"] == f"Bearer {AccessToken.objects.get().value}"
    assert "cookie" not in request.headers
    assert AccessToken.objects.get().value not in page


def test_it_explains_a_role_that_may_not_log_in_with_tokens(
    alice_client, register, create_authentication, fake_netsuite
):
    authentication = create_authentication(register("p256"))
    fake_netsuite.role_can_use_tokens = False
    page = alice_client.post(url(authentication), {"path": ""}).content.decode()
    assert "HTTP 401" in page
    assert "Log in using OAuth 2.0 Access Tokens" in page


def test_the_path_can_be_changed_but_stays_on_netsuites_rest_services(
    alice_client, register, create_authentication, fake_netsuite
):
    authentication = create_authentication(register("p256"))
    page = alice_client.post(
        url(authentication), {"path": "/services/rest/record/v1/customer?limit=1"}
    ).content.decode()
    assert "HTTP 200" in page
    assert fake_netsuite.requests[-1].path == "/services/rest/record/v1/customer?limit=1"
    before = len(fake_netsuite.requests)
    for path in [
        "https://evil.example.com/x",
        "//evil.example.com/services/rest/x",
        "/admin",
        "/services/rest/../x",
    ]:
        page = alice_client.post(url(authentication), {"path": path}).content.decode()
        assert "Enter a path on NetSuite&#x27;s REST services" in page, path
    assert len(fake_netsuite.requests) == before


def test_a_token_failure_is_shown(alice_client, register, create_authentication, fake_netsuite):
    authentication = create_authentication(register("p256"))
    fake_netsuite.fail_next("invalid_client")
    page = alice_client.post(url(authentication), {"path": ""}, HTTP_HX_REQUEST="true").content.decode()
    assert "invalid_client" in page


def test_cookies_netsuite_sets_never_travel_with_the_token(
    alice_client, register, create_authentication, fake_netsuite
):
    """GIVEN NetSuite sets a routing cookie on its answers WHEN the token is used THEN no Cookie goes back."""
    authentication = create_authentication(register("p256"))
    fake_netsuite.set_cookie = True
    alice_client.post(f"/authentications/{authentication.identifier}/retrieve-token/")
    page = alice_client.post(url(authentication), {"path": ""}).content.decode()
    assert "HTTP 200" in page
    assert all("cookie" not in request.headers for request in fake_netsuite.requests)
