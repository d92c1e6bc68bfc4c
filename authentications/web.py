"""Small facts about a web request that every view needs."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address of whoever sent the request: what the audit trail records and what
    sign-in throttling counts.

    Behind NSCONNECT_TRUSTED_PROXIES reverse proxies it is the address the outermost of
    them saw, the Nth entry from the right of X-Forwarded-For (each proxy appends the
    address it was reached from); entries further left came from the client and may be
    forged, so they are never read. Without proxies the header is ignored altogether.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.NSCONNECT_TRUSTED_PROXIES
    if not proxies:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < proxies:
        return remote  # not through the proxies as configured: the sender itself
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# The field a confirmation page posts: without it, an irreversible action only asks.
CONFIRMED = "confirmed"


def named_signing_key_id(request: HttpRequest) -> int:
    """The signing key a wizard button names (its signing_key field, posted, or in the query of
    the GET that asks for a confirmation); 0, which no key has, for anything that is not a key
    id (not ASCII digits, or longer than any id), so the lookup that follows finds nothing."""
    named = (request.POST if request.method == "POST" else request.GET).get("signing_key", "")
    # 18 digits fit a 64-bit key; int() refuses past 4,300 digits, which would be a 500.
    return int(named) if named.isascii() and named.isdigit() and len(named) <= 18 else 0


def confirmed(request: HttpRequest) -> bool:
    """Whether the person confirmed an irreversible action on the page that asked."""
    return request.method == "POST" and bool(request.POST.get(CONFIRMED))
