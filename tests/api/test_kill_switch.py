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
