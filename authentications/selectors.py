"""Reads that pages, forms and tasks share: the dashboard's counts, the list page's rows, the
authentications due a refresh, the pending key and rollback candidate, and the key pairs a
user may see or use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
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


EXPIRING_DAYS = 30


@dataclass(frozen=True)
class Counts:
    authentications: int
    healthy: int
    failing: int
    expiring: int
    expired: int


def counts(now: datetime) -> Counts:
    expired = Q(signing_keys__state=SigningKey.State.ACTIVE, signing_keys__effective_expires_at__lte=now)
    expiring = Q(
        signing_keys__state=SigningKey.State.ACTIVE,
        signing_keys__effective_expires_at__gt=now,
        signing_keys__effective_expires_at__lte=now + timedelta(days=EXPIRING_DAYS),
    )
    all_ = HttpAuthentication.objects.all()
    return Counts(
        authentications=all_.count(),
        # Healthy: enabled, refreshing fine, and a certificate still in date.
        healthy=all_.filter(enabled=True, failing_since__isnull=True)
        .filter(signing_keys__state=SigningKey.State.ACTIVE, signing_keys__effective_expires_at__gt=now)
        .count(),
        failing=all_.filter(failing_since__isnull=False).count(),
        expiring=all_.filter(expiring).count(),
        expired=all_.filter(expired).count(),
    )


def next_expiries(limit: int = 10) -> QuerySet[SigningKey]:
    return (
        SigningKey.objects.filter(state=SigningKey.State.ACTIVE, authentication__isnull=False)
        .select_related("authentication")
        .defer("private_key")
        .order_by("effective_expires_at")[:limit]
    )


def latest_failures(limit: int = 10) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_FAILED).select_related("authentication")[
        :limit
    ]


def authentications_listed() -> QuerySet[HttpAuthentication]:
    """The list page's rows: each with its token's expiry (never its value) and its active key
    (never its private key), in two queries however many there are."""
    active_keys = SigningKey.objects.filter(state=SigningKey.State.ACTIVE).defer("private_key")
    return HttpAuthentication.objects.for_pages().prefetch_related(
        Prefetch("signing_keys", queryset=active_keys, to_attr="active_keys")
    )


def key_pair_target(identifier: str) -> HttpAuthentication | None:
    """The authentication a key pair is being made for (?for=), when it exists: a missing one
    only leaves the page without its "use it for" link, so no 404."""
    return HttpAuthentication.objects.filter(identifier=identifier).first() if identifier else None


def authentication_reread(authentication: HttpAuthentication) -> HttpAuthentication:
    """The record as a button's request left it (its token, its failure counts), read as pages
    read it: the token's value stays in the database, so a value that no longer decrypts
    cannot break the page that shows when it expires."""
    return HttpAuthentication.objects.for_pages().get(pk=authentication.pk)
