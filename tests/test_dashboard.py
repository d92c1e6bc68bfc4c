"""The dashboard at /: what needs attention, at a glance."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from authentications.models import HttpAuthentication, SigningKey

pytestmark = pytest.mark.django_db


def tile(page: str, label: str) -> int:
    match = re.search(rf'display-6[^>]*>(\d+)</div>\s*<div class="text-body-secondary">{label}<', page)
    assert match, label
    return int(match.group(1))


def expire_in(authentication: HttpAuthentication, days: float) -> SigningKey:
    key = authentication.active_key()
    assert key is not None
    SigningKey.objects.filter(pk=key.pk).update(effective_expires_at=timezone.now() + dt.timedelta(days=days))
    return key


def test_it_counts_what_needs_attention(alice_client, register, create_authentication, fake_netsuite):
    """GIVEN one healthy, one failing, one expiring in 10 days and one expired authentication
    WHEN alice opens the dashboard THEN each count says so."""
    create_authentication(register("p256"), name="Healthy")
    failing = create_authentication(register("p256"), name="Failing")
    fake_netsuite.fail_next("service_unavailable")
    alice_client.post(f"/authentications/{failing.identifier}/retrieve-token/")
    expire_in(create_authentication(register("p256"), name="Soon"), 10)
    expire_in(create_authentication(register("p256"), name="Gone"), -2)

    page = alice_client.get("/").content.decode()

    assert tile(page, "Authentications") == 4
    assert tile(page, "Healthy") == 2  # Healthy and Soon: still in date, not failing
    assert tile(page, "Failing") == 1
    assert tile(page, "Expiring within 30 days") == 1
    assert tile(page, "Expired") == 1


def test_it_lists_the_next_expiries_in_date_order_with_links(alice_client, register, create_authentication):
    for name, days in [("Later", 200), ("Sooner", 20), ("Soonest", 3)]:
        expire_in(create_authentication(register("p256"), name=name), days)
    page = alice_client.get("/").content.decode()
    positions = [page.index(f">{name}</a>") for name in ("Soonest", "Sooner", "Later")]
    assert positions == sorted(positions)
    assert 'href="/authentications/soonest/"' in page
    assert "3 days left" in page and "text-bg-danger" in page


def test_it_shows_the_latest_failures(alice_client, register, create_authentication, fake_netsuite):
    authentication = create_authentication(register("p256"))
    fake_netsuite.fail_next("invalid_client")
    alice_client.post(f"/authentications/{authentication.identifier}/retrieve-token/")
    page = alice_client.get("/").content.decode()
    assert "Latest failures" in page
    assert "did not accept the credentials (invalid_client)" in page
    assert f'href="/authentications/{authentication.identifier}/"' in page


def test_an_empty_dashboard_says_so(alice_client):
    page = alice_client.get("/").content.decode()
    assert "No active certificates yet." in page and "No failures." in page
