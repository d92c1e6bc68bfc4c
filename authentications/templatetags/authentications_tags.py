"""The app's one template library: dates that do not wrap, state, certificate days-left and
token status badges, a key pair's facts and downloads, the rotation wizard's "Upload to
NetSuite" button, and audit event details as readable lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString

from authentications import selectors
from authentications.models import HttpAuthentication, SigningKey
from authentications.selectors import State
from authentications.services import netsuite_certificates
from authentications.services.key_pairs import certificate_file_stem

register = template.Library()


# Dates: one format on every page, in the page's time zone, never wrapped mid-date.


def date_text(value: datetime | date, *, day: bool = False, seconds: bool = False, utc: bool = False) -> str:
    """2026-12-02 22:07 in the active time zone (UTC with utc=True); 2026-12-02 with day=True."""
    if not isinstance(value, datetime):
        return value.isoformat()
    if timezone.is_aware(value):
        value = value.astimezone(UTC) if utc else timezone.localtime(value)
    # The year by hand: strftime writes year 1 as "1", not "0001".
    ymd = f"{value.year:04d}-{value:%m-%d}"
    return ymd if day else f"{ymd} {value:%H:%M:%S}" if seconds else f"{ymd} {value:%H:%M}"


def time_element(value: datetime | date, before: str = "", **shown: bool) -> SafeString:
    """A <time> that does not wrap, the words before the date (if any) inside it, so that a
    phrase such as "Valid until 2026-12-02 22:07" reads and stays as one."""
    text = f"{before} {date_text(value, **shown)}" if before else date_text(value, **shown)
    machine = value.replace(microsecond=0) if isinstance(value, datetime) else value
    return format_html('<time class="text-nowrap" datetime="{}">{}</time>', machine.isoformat(), text)


@register.simple_tag
def date_time(
    value: datetime | date | None,
    before: str = "",
    *,
    day: bool = False,
    seconds: bool = False,
    utc: bool = False,
    none: str = "—",
) -> str:
    """{% date_time value %}: the date and time, or `none` when there is no value."""
    if value is None or value == "":
        return none
    return time_element(value, before, day=day, seconds=seconds, utc=utc)


# Badges: states, certificate days left and token status, the same on every page.


@dataclass(frozen=True)
class Badge:
    text: str
    css: str  # Bootstrap's text-bg-* pair: a colour with text that reads on it
    until: datetime | None = None  # shown after the text, as a date


BADGE_CSS = {
    State.HEALTHY: "text-bg-success",
    State.NO_TOKEN: "text-bg-light border",
    State.TOKEN_EXPIRED: "text-bg-warning",
    State.FAILING: "text-bg-danger",
    State.BACKING_OFF: "text-bg-warning",
    State.RETRIES_STOPPED: "text-bg-danger",
    State.CERTIFICATE_EXPIRING: "text-bg-warning",
    State.CERTIFICATE_EXPIRED: "text-bg-danger",
}


def in_days(days: int) -> str:
    if days <= 0:
        return "today"
    return f"in {days} day{'s' if days != 1 else ''}"


def state_badge(state: State, authentication: HttpAuthentication, signing_key: SigningKey | None) -> Badge:
    if state == State.BACKING_OFF:
        return Badge("Backing off until", BADGE_CSS[state], until=authentication.next_attempt_at)
    if state == State.CERTIFICATE_EXPIRING and signing_key is not None:
        return Badge(f"Certificate expires {in_days(signing_key.days_left())}", BADGE_CSS[state])
    return Badge(str(state.label), BADGE_CSS[state])


def state_badges_of(authentication: HttpAuthentication) -> list[Badge]:
    """Enabled or Disabled, then a badge for each state the record is in."""
    enabled = (
        Badge("Enabled", "text-bg-light border")
        if authentication.enabled
        else Badge("Disabled", "text-bg-secondary")
    )
    states = selectors.states_of(authentication)
    signing_key = active_key_of(authentication) if State.CERTIFICATE_EXPIRING in states else None
    return [enabled, *(state_badge(state, authentication, signing_key) for state in states)]


@register.inclusion_tag("authentications/includes/state_badges.html")
def state_badges(authentication: HttpAuthentication) -> dict[str, Any]:
    return {"badges": state_badges_of(authentication)}


def active_key_of(authentication: HttpAuthentication) -> SigningKey | None:
    # The list prefetches active keys (to_attr="active_keys"); other pages ask.
    prefetched: list[SigningKey] | None = getattr(authentication, "active_keys", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return authentication.active_key()


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
    signing_key = active_key_of(authentication)
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


# Audit trail: event details as readable "key: value" lines, escaped here.

# What services write for a datetime (isoformat()): shown as the page shows its dates.
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
NOTHING = "—"


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not ISO_DATETIME.fullmatch(value):
        return None
    try:
        moment = datetime.fromisoformat(value)
        # Shown in the page's time zone and in UTC: a moment at the edge of the calendar
        # (year 1 or 9999, written by anyone who names an API client) must fit both.
        timezone.localtime(moment)
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment


def _label(key: object) -> str:
    return str(key).replace("_", " ")


def _html(value: Any) -> SafeString:
    """One detail as HTML on one line: text escaped (details may quote what NetSuite or a user
    sent), a datetime as a <time> in the page's time zone, nested values joined."""
    if (moment := _moment(value)) is not None:
        return time_element(moment)
    if value is None:
        return conditional_escape(NOTHING)
    if isinstance(value, bool):
        return conditional_escape("yes" if value else "no")
    if isinstance(value, list | tuple):
        return format_html_join(", ", "{}", ((_html(item),) for item in value)) or conditional_escape(NOTHING)
    if isinstance(value, dict):
        joined = format_html_join("; ", "{}: {}", ((_label(key), _html(item)) for key, item in value.items()))
        return joined or conditional_escape(NOTHING)
    return conditional_escape(str(value))


@register.filter
def detail_lines(details: Any) -> list[tuple[str, SafeString]]:
    """(key, value) pairs of an event's details, nested values flattened to one line each."""
    if not isinstance(details, dict):
        return [("", _html(details))] if details else []
    return [(_label(key), _html(value)) for key, value in details.items()]
