"""Badges for certificate days left and token status, the same on every page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from authentications.models import HttpAuthentication, SigningKey

register = template.Library()


def days_left_colour(days: int) -> str:
    if days <= 7:
        return "danger"
    if days <= 30:
        return "warning"
    return "success"


@register.inclusion_tag("authentications/includes/days_left.html")
def days_left(signing_key: SigningKey | None) -> dict[str, Any]:
    if signing_key is None:
        return {"signing_key": None}
    now = timezone.now()
    days = signing_key.days_left(now)
    return {
        "signing_key": signing_key,
        "days": days,
        "expired": signing_key.is_expired(now),
        "colour": days_left_colour(days),
    }


@register.inclusion_tag("authentications/includes/token_status.html")
def token_status(authentication: HttpAuthentication) -> dict[str, Any]:
    token = authentication.current_token()
    now = timezone.now()
    # The list prefetches active keys (to_attr="active_keys"); other pages ask.
    prefetched: list[SigningKey] | None = getattr(authentication, "active_keys", None)
    if prefetched is not None:
        signing_key = prefetched[0] if prefetched else None
    else:
        signing_key = authentication.active_key()
    return {
        "authentication": authentication,
        "token": token,
        "expired": token is not None and token.is_expired(now),
        # Scheduled refresh stops then (refresh._due), so no other status would be true for long.
        "certificate_expired_at": (
            signing_key.effective_expires_at if signing_key and signing_key.is_expired(now) else None
        ),
    }
