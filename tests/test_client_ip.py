"""Which address a request comes from, for the audit trail and sign-in throttling: never a
forwarded header a client can forge, and behind trusted proxies the address they saw."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from authentications.web import client_ip

PROXY = "10.0.0.5"


def request_with(remote: str, forwarded: str | None = None):
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_without_proxies_a_forwarded_header_is_ignored(settings):
    """GIVEN no trusted proxy WHEN a client sends X-Forwarded-For THEN its own address counts."""
    settings.NSCONNECT_TRUSTED_PROXIES = 0
    assert client_ip(request_with("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "198.51.100.7", "198.51.100.7"),
        # What the client put in front is never read: the proxy appended the real address.
        (1, "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        (2, "1.2.3.4, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (1, "2001:db8::1", "2001:db8::1"),
        # Not through the proxies as configured, or not an address: the sender itself.
        (2, "198.51.100.7", PROXY),
        (1, "not-an-address", PROXY),
        (1, None, PROXY),
    ],
)
def test_behind_trusted_proxies_the_address_they_saw_counts(settings, proxies, forwarded, expected):
    settings.NSCONNECT_TRUSTED_PROXIES = proxies
    assert client_ip(request_with(PROXY, forwarded)) == expected


@pytest.mark.django_db
def test_behind_a_proxy_one_attackers_failures_do_not_pause_everyones_sign_in(client, settings, alice):
    """GIVEN nsconnect behind one proxy WHEN an attacker fails 25 sign-ins with many user names
    THEN the attacker is paused, and alice, arriving through the same proxy, signs in."""
    settings.NSCONNECT_TRUSTED_PROXIES = 1
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    alice.set_password("alices-password")
    alice.save()
    for attempt in range(25):
        client.post(
            reverse("login"),
            {"username": f"user{attempt}", "password": "guess"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR="203.0.113.66",
        )
    paused = client.post(
        reverse("login"),
        {"username": "user0", "password": "guess"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="203.0.113.66",
    )
    assert paused.status_code == 429

    signed_in = client.post(
        reverse("login"),
        {"username": "alice", "password": "alices-password"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    assert signed_in.status_code == 302
