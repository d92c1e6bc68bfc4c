"""Selectors for the dashboard at /: what needs attention across every authentication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from authentications.models import AuditEvent, HttpAuthentication, SigningKey

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
