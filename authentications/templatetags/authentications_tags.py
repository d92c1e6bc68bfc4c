"""The app's one template library: certificate days-left and token status badges, a key
pair's facts and downloads, the rotation wizard's "Upload to NetSuite" button, and audit
event details as readable lines."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from authentications.models import HttpAuthentication, SigningKey
from authentications.services import netsuite_certificates
from authentications.services.key_pairs import certificate_file_stem

register = template.Library()


# Badges: certificate days left and token status, the same on every page.


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
        # Scheduled refresh stops then (selectors.due_for_refresh), so no other status
        # would be true for long.
        "certificate_expired_at": (
            signing_key.effective_expires_at if signing_key and signing_key.is_expired(now) else None
        ),
    }


# Key pairs: the facts, downloads and NetSuite steps of a generated key pair.


@register.inclusion_tag("authentications/includes/key_pair_facts.html")
def key_pair_facts(signing_key: SigningKey, in_form: bool = False) -> dict[str, Any]:
    return {"signing_key": signing_key, "file_stem": certificate_file_stem(signing_key), "in_form": in_form}


# The rotation wizard's NetSuite certificate endpoint buttons, shown only when usable.


@register.inclusion_tag("authentications/includes/netsuite_upload_button.html")
def netsuite_upload_button(
    authentication: HttpAuthentication, pending_key: SigningKey | None
) -> dict[str, Any]:
    return {
        "authentication": authentication,
        "pending_key": pending_key,
        "usable": not netsuite_certificates.upload_problem(authentication, pending_key),
        # Someone with the scope may just not have entered the IDs yet: say where they go.
        "needs_ids": netsuite_certificates.REST_WEB_SERVICES in authentication.scope_list
        and not (authentication.netsuite_role_id and authentication.netsuite_entity_id),
    }


# Audit trail: event details as readable "key: value" lines; the template escapes them.


def _label(key: object) -> str:
    return str(key).replace("_", " ")


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{_label(key)}: {_text(item)}" for key, item in value.items()) or "—"
    return str(value)


@register.filter
def detail_lines(details: Any) -> list[tuple[str, str]]:
    """(key, value) pairs of an event's details, nested values flattened to one line each.

    Plain strings, not safe strings: autoescaping applies, since details may quote
    what NetSuite or a user sent.
    """
    if not isinstance(details, dict):
        return [("", _text(details))] if details else []
    return [(_label(key), _text(value)) for key, value in details.items()]
