"""Disabling an authentication, or its certificate expiring, stops the token API at once:
a stored token that is still valid is not served either."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from authentications.models import HttpAuthentication, SigningKey
from tests.api.consumer import get_token

pytestmark = pytest.mark.django_db


def test_disabling_stops_serving_the_stored_token_from_the_next_request(client, acme, issue, fake_netsuite):
    """GIVEN a service that got a token an hour long
    WHEN an integrator disables the authentication
    THEN the next request gets 503 JSON without the token, and NetSuite is not asked;
    enabling it again serves the stored token again."""
    key = issue(acme).key
    served = get_token(client, "acme-erp", key).json()["access_token"]
    HttpAuthentication.objects.filter(pk=acme.pk).update(enabled=False)

    response = get_token(client, "acme-erp", key)

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "token_unavailable", "detail": "This authentication is disabled."}
    assert served not in response.content.decode()
    assert len(fake_netsuite.requests) == 1

    HttpAuthentication.objects.filter(pk=acme.pk).update(enabled=True)
    again = get_token(client, "acme-erp", key)
    assert again.status_code == 200
    assert again.json()["access_token"] == served


def test_an_expired_certificate_stops_serving_the_stored_token(client, acme, issue, fake_netsuite):
    """GIVEN a service that got a token an hour long
    WHEN the active certificate's effective expiry passes
    THEN the next request gets 503 JSON that names the expiry, not the stored token."""
    key = issue(acme).key
    served = get_token(client, "acme-erp", key).json()["access_token"]
    expired_at = timezone.now() - dt.timedelta(seconds=1)
    SigningKey.objects.filter(authentication=acme).update(effective_expires_at=expired_at)

    response = get_token(client, "acme-erp", key)

    assert response.status_code == 503
    assert response.json()["detail"].startswith(f"Certificate expired on {expired_at:%Y-%m-%d}")
    assert served not in response.content.decode()
    assert len(fake_netsuite.requests) == 1


def test_removing_an_origin_from_the_allowlist_stops_serving_the_token_it_issued(
    client, acme, issue, fake_netsuite, settings
):
    """GIVEN a service that got a token an hour long from an allowlisted test server
    WHEN that origin is removed from NSCONNECT_TOKEN_URL_ALLOWLIST
    THEN the next request gets 503 JSON saying the Authentication URL is no longer admitted,
    without the token, and nothing is asked of anyone; putting the origin back serves it again."""
    key = issue(acme).key
    served = get_token(client, "acme-erp", key).json()["access_token"]
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = []

    response = get_token(client, "acme-erp", key)

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "token_unavailable"
    assert response.json()["detail"].startswith("The Authentication URL is no longer admitted")
    assert "NSCONNECT_TOKEN_URL_ALLOWLIST" in response.json()["detail"]
    assert served not in response.content.decode()
    assert len(fake_netsuite.requests) == 1

    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [fake_netsuite.origin]
    assert get_token(client, "acme-erp", key).json()["access_token"] == served
