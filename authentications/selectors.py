"""Reads that pages, forms and tasks share: the authentications due a refresh, the pending key
and rollback candidate, the key pairs a user may see or use; and the states of an
authentication, with the dashboard's counts and the list page's rows that use them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.permissions import ROTATE_KEY


def due_for_refresh(now: datetime) -> QuerySet[HttpAuthentication]:
    horizon = now + timedelta(seconds=settings.NSCONNECT_REFRESH_MARGIN_SECONDS)
    return (
        HttpAuthentication.objects.filter(
            enabled=True,
            retries_stopped=False,
            # One filter() call: the same active key must be unexpired. Asking NetSuite
            # with an expired certificate only earns invalid_client, minute after minute.
            signing_keys__state=SigningKey.State.ACTIVE,
            signing_keys__effective_expires_at__gt=now,
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(access_token__isnull=True) | Q(access_token__expires_at__lte=horizon))
    )


def authentications_due(now: datetime | None = None) -> list[int]:
    """Ids of enabled authentications whose token expires within the refresh margin (or
    that have none), skipping those in back-off or stopped and those whose certificate expired."""
    return list(due_for_refresh(now or timezone.now()).order_by("pk").values_list("pk", flat=True))


def pending_key(authentication: HttpAuthentication) -> SigningKey | None:
    return authentication.signing_keys.filter(state=SigningKey.State.PENDING).first()


def retention() -> timedelta:
    # Read when used, so override_settings works.
    return timedelta(days=settings.NSCONNECT_RETIRED_KEY_RETENTION_DAYS)


def previous_key(authentication: HttpAuthentication) -> SigningKey | None:
    """The most recently retired key, whatever became of it since."""
    return (
        authentication.signing_keys.filter(state=SigningKey.State.RETIRED, retired_at__isnull=False)
        .defer("private_key")
        .order_by("-retired_at", "-pk")
        .first()
    )


def rollback_candidate(authentication: HttpAuthentication, now: datetime | None = None) -> SigningKey | None:
    """The previous key, if it can still be reactivated: the most recently retired one,
    inside the retention, not wiped, not revoked in NetSuite, certificate in date. Never an
    older one."""
    now = now or timezone.now()
    previous = previous_key(authentication)
    if (
        previous is None
        or previous.wiped_at is not None
        # NetSuite refuses a revoked certificate (invalid_client): no use asking it.
        or previous.revoked_at is not None
        # Compared in the database: the page asking need not decrypt the key.
        or not SigningKey.objects.filter(pk=previous.pk).exclude(private_key="").exists()
        or previous.retired_at is None
        or previous.retired_at <= now - retention()
        or previous.is_expired(now)
    ):
        return None
    return previous


def signing_keys_visible_to(user: Any) -> QuerySet[SigningKey]:
    """Keys of authentications (every signed-in user reads those), and unattached keys of their maker;
    staff and key administrators see them all."""
    signing_keys = SigningKey.objects.select_related("authentication")
    if user.is_staff or user.has_perm(ROTATE_KEY):
        return signing_keys
    return signing_keys.filter(Q(authentication__isnull=False) | Q(created_by=user))


def generated_key_for_form(user: Any, raw_id: object) -> tuple[SigningKey | None, str]:
    """The generated key an authentication form may take, or why it may not (message for the user)."""
    not_found = "This generated key pair was not found. Generate a new one."
    try:
        pk = int(str(raw_id))
    except ValueError:
        return None, not_found
    signing_key = (
        signing_keys_visible_to(user).filter(pk=pk).first()
        if user is not None and user.is_authenticated
        else None
    )
    if signing_key is None:
        return None, not_found
    if signing_key.authentication is not None:
        return None, (
            f"This key pair is already used by {signing_key.authentication.name}. Generate a new "
            "one: each authentication gets its own key pair."
        )
    if signing_key.state != SigningKey.State.PENDING:
        return None, not_found
    return signing_key, ""


# States: what the list, the detail page's title and the dashboard say of an authentication.
# Each is decided here once, as a condition the database evaluates, so that a dashboard count,
# the list filtered to it and the badges on the rows it counts cannot disagree.

# A certificate expiring within these days is "expiring" (the days-left badge turns amber too).
EXPIRING_DAYS = 30


class State(models.TextChoices):
    """The states an authentication can be in; any number at once (healthy and expiring,
    failing and backing off). Enabled or disabled is its own field, not one of them."""

    HEALTHY = "healthy", "Healthy"
    NO_TOKEN = "no-token", "No token yet"
    TOKEN_EXPIRED = "token-expired", "Token expired"
    FAILING = "failing", "Failing"
    BACKING_OFF = "backing-off", "Backing off"
    RETRIES_STOPPED = "retries-stopped", "Retries stopped"
    CERTIFICATE_EXPIRING = "expiring", "Certificate expiring"
    CERTIFICATE_EXPIRED = "expired", "Certificate expired"


def state_conditions(now: datetime) -> dict[State, Q]:
    """The condition of each state at `now`.

    Healthy means a token that is valid now, no failure since, enabled, and a certificate in
    date: a record that never had a token is not healthy, it has none yet. Backing off and
    retries stopped are the two ways a failing record waits (services/token_failures.py): until
    next_attempt_at, or until a person acts, NetSuite having refused the credentials.
    """
    active_key = SigningKey.objects.filter(authentication=OuterRef("pk"), state=SigningKey.State.ACTIVE)
    in_date = Exists(active_key.filter(effective_expires_at__gt=now))
    expiring = Exists(
        active_key.filter(
            effective_expires_at__gt=now, effective_expires_at__lte=now + timedelta(days=EXPIRING_DAYS)
        )
    )
    failing = Q(failing_since__isnull=False)
    on_schedule = Q(enabled=True) & ~failing
    return {
        State.HEALTHY: on_schedule & Q(access_token__expires_at__gt=now) & Q(in_date),
        State.NO_TOKEN: on_schedule & Q(access_token__isnull=True),
        State.TOKEN_EXPIRED: on_schedule & Q(access_token__expires_at__lte=now),
        State.FAILING: failing,
        State.BACKING_OFF: failing & Q(retries_stopped=False, next_attempt_at__gt=now),
        State.RETRIES_STOPPED: failing & Q(retries_stopped=True),
        State.CERTIFICATE_EXPIRING: Q(expiring),
        State.CERTIFICATE_EXPIRED: Q(Exists(active_key.filter(effective_expires_at__lte=now))),
    }


def _flag(state: State) -> str:
    return f"is_{state.name.lower()}"


def with_states(authentications: QuerySet[HttpAuthentication], now: datetime) -> QuerySet[HttpAuthentication]:
    """The rows, each knowing its states (read them with states_of), in the same query."""
    return authentications.annotate(
        **{
            _flag(state): ExpressionWrapper(condition, output_field=BooleanField())
            for state, condition in state_conditions(now).items()
        }
    )


def states_of(authentication: HttpAuthentication) -> list[State]:
    """The states of a record, in State's order: read from with_states, or asked for."""
    flags = [_flag(state) for state in State]
    if all(hasattr(authentication, flag) for flag in flags):
        values = {flag: getattr(authentication, flag) for flag in flags}
    else:
        rows = with_states(HttpAuthentication.objects.filter(pk=authentication.pk), timezone.now())
        values = rows.values(*flags).first() or {}
    return [state for state in State if values.get(_flag(state))]


@dataclass(frozen=True)
class Counts:
    """The dashboard's tiles: how many authentications there are, are disabled, and are in each state."""

    authentications: int
    disabled: int
    states: dict[State, int]


def counts(now: datetime) -> Counts:
    """In one query, by the same conditions the list filters with."""
    totals = HttpAuthentication.objects.aggregate(
        authentications=Count("pk"),
        disabled=Count("pk", filter=Q(enabled=False)),
        **{_flag(state): Count("pk", filter=condition) for state, condition in state_conditions(now).items()},
    )
    return Counts(
        authentications=totals["authentications"],
        disabled=totals["disabled"],
        states={state: totals[_flag(state)] for state in State},
    )


def authentications_listed(
    now: datetime | None = None,
    *,
    search: str = "",
    state: State | None = None,
    enabled: bool | None = None,
) -> QuerySet[HttpAuthentication]:
    """The list page's rows, with their states: each with its token's expiry (never its value)
    and its active key (never its private key), in two queries however many there are.

    search finds a part of the name, identifier or account ID, or the start of the consumer
    key, in any case; state and enabled keep only the rows in that state, or (not) enabled.
    """
    now = now or timezone.now()
    active_keys = SigningKey.objects.filter(state=SigningKey.State.ACTIVE).defer("private_key")
    rows = with_states(HttpAuthentication.objects.for_pages(), now).prefetch_related(
        Prefetch("signing_keys", queryset=active_keys, to_attr="active_keys")
    )
    if search:
        rows = rows.filter(
            Q(name__icontains=search)
            | Q(identifier__icontains=search)
            | Q(account_id__icontains=search)
            | Q(consumer_key__istartswith=search)
        )
    if state is not None:
        rows = rows.filter(state_conditions(now)[state])
    if enabled is not None:
        rows = rows.filter(enabled=enabled)
    return rows


def authentications_total() -> int:
    return HttpAuthentication.objects.count()


def next_expiries(now: datetime | None = None, limit: int = 10) -> QuerySet[HttpAuthentication]:
    """The authentications whose active certificate expires first, with their states."""
    expires_at = SigningKey.objects.filter(
        authentication=OuterRef("pk"), state=SigningKey.State.ACTIVE
    ).values("effective_expires_at")[:1]
    return (
        authentications_listed(now)
        .annotate(certificate_expires_at=Subquery(expires_at))
        .filter(certificate_expires_at__isnull=False)
        .order_by("certificate_expires_at", "name")[:limit]
    )


def latest_failures(limit: int = 10) -> QuerySet[AuditEvent]:
    """The latest failed token retrieval of each authentication that has one, newest first: one
    row an authentication, however often it failed. Deleted authentications fail no more."""
    latest = (
        AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_FAILED, authentication=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    latest_ids = (
        HttpAuthentication.objects.annotate(latest_failure=Subquery(latest))
        .filter(latest_failure__isnull=False)
        .values("latest_failure")
    )
    return (
        AuditEvent.objects.filter(pk__in=latest_ids)
        .select_related("authentication")
        .order_by("-created_at", "-id")[:limit]
    )


def key_pair_target(identifier: str) -> HttpAuthentication | None:
    """The authentication a key pair is being made for (?for=), when it exists: a missing one
    only leaves the page without its "use it for" link, so no 404."""
    return HttpAuthentication.objects.filter(identifier=identifier).first() if identifier else None


def authentication_reread(authentication: HttpAuthentication) -> HttpAuthentication:
    """The record as a button's request left it (its token, its failure counts, its states),
    read as pages read it: the token's value stays in the database, so a value that no longer
    decrypts cannot break the page that shows when it expires."""
    return authentications_listed().get(pk=authentication.pk)
