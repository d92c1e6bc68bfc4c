""" "Send test request": the current token against a NetSuite REST resource."""

from __future__ import annotations

import pytest

from authentications.models import AccessToken
from authentications.netsuite import rest_request, token_urls

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


TRAVERSALS = [
    "/services/rest/record/v1/%2e%2e/%2e%2e/auth/oauth2/v1/token",
    "/services/rest/record/v1/%2E%2E/%2E%2E/auth/oauth2/v1/token",
    "/services/rest/record/v1/.%2e/x",
    "/services/rest/record/v1/%2e./x",
    "/services/rest/record/v1/%252e%252e/x",
    "/services/rest/record/v1/%25252e%25252e/x",
    "/services/rest/record/v1/%2f%2fevil.example.com",
    "/services/rest/record/v1/%5c..%5cx",
    "/services/rest/record/v1/./customer",
    "/services/rest/record/v1/%2e/customer",
    "/services/rest/record/v1/%zz",
    "/services/rest/record/v1/%ff",
    "/services/rest/record/v1/customer?limit=1#fragment",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_percent_encoded_traversals_are_decoded_before_the_check_and_refused(
    alice_client, register, create_authentication, fake_netsuite, path
):
    """GIVEN a saved authentication with a token WHEN the test request path hides "..", "//", a
    backslash or "." behind percent-escapes (requests would decode %2e%2e to ../) THEN it is
    refused with the path message and no request reaches NetSuite."""
    authentication = create_authentication(register("p256"))
    alice_client.post(f"/authentications/{authentication.identifier}/retrieve-token/")
    before = len(fake_netsuite.requests)
    page = alice_client.post(url(authentication), {"path": path}).content.decode()
    assert "Enter a path on NetSuite&#x27;s REST services" in page
    assert len(fake_netsuite.requests) == before


@pytest.mark.parametrize("path", TRAVERSALS)
def test_send_test_request_refuses_encoded_traversals_itself(fake_netsuite, path):

    with pytest.raises(token_urls.ProtocolValueError, match="Enter a path"):
        rest_request.send_test_request(token_url=fake_netsuite.token_url, access_token="t", path=path)
    assert fake_netsuite.requests == []


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("/services/rest/record/v1/%63ustomer", "/services/rest/record/v1/customer"),
        (
            "/services/rest/record/v1/customer?limit=1&offset=%32",
            "/services/rest/record/v1/customer?limit=1&offset=2",
        ),
        (
            "/services/rest/record/v1/customer?q=id%20%3d%201",
            "/services/rest/record/v1/customer?q=id%20%3D%201",
        ),
    ],
)
def test_the_path_sent_is_exactly_the_path_checked(
    alice_client, register, create_authentication, fake_netsuite, path, sent
):
    """GIVEN a harmless path with escapes WHEN the test request is sent THEN NetSuite receives the
    decoded, checked path (and the query as requests sends it), byte for byte."""
    authentication = create_authentication(register("p256"))
    page = alice_client.post(url(authentication), {"path": path}).content.decode()
    assert "HTTP 200" in page
    assert fake_netsuite.requests[-1].path == sent


def test_a_huge_path_is_refused_before_any_token_is_fetched_and_not_echoed(
    alice_client, register, create_authentication, fake_netsuite
):
    authentication = create_authentication(register("p256"))
    AccessToken.objects.all().delete()  # a refused path must not cost a token request either
    before = len(fake_netsuite.requests)
    huge = "/services/rest/record/v1/" + "a" * 10_000_000
    response = alice_client.post(url(authentication), {"path": huge}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "The path is 10,000,025 characters long; at most 320 are sent." in page
    assert len(page) < 20_000
    assert len(fake_netsuite.requests) == before
    assert not AccessToken.objects.exists()
