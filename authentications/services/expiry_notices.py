"""Certificate expiry watch: each active signing key is mailed once per threshold it
crosses (NSCONNECT_EXPIRY_ALERT_DAYS, then the expiry itself), however often and
however concurrently the check runs.

Who sends is decided by the database: the ExpiryNotice row for (key, threshold) is
unique, so of two runs inserting it at once only one succeeds and mails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from authentications import emails
from authentications.models import ExpiryNotice, SigningKey
from authentications.services.audit_trail import Actor

logger = logging.getLogger(__name__)

# The threshold that announces the expiry itself rather than days before it.
EXPIRED = 0


@dataclass(frozen=True)
class ExpiryAlert:
    """One mail the check sent: about which key, for which threshold."""

    authentication_name: str
    certificate_id: str
    threshold_days: int
    days_left: int
    expires_at: datetime
    recipients: tuple[str, ...]


def thresholds() -> list[int]:
    """The configured days before expiry plus the expiry itself, most urgent first."""
    days = {day for day in settings.NSCONNECT_EXPIRY_ALERT_DAYS if day > 0}
    return sorted({*days, EXPIRED})


def crossed(days_left: int, levels: list[int]) -> list[int]:
    """The thresholds a key with days_left has reached, most urgent first."""
    return [level for level in levels if days_left <= level]


def _keys_to_watch() -> list[SigningKey]:
    # Disabled authentications count too: the certificate expires all the same, and
    # whoever enables the record again needs to know.
    return list(
        SigningKey.objects.filter(state=SigningKey.State.ACTIVE, authentication__isnull=False)
        .select_related("authentication")
        .defer("private_key")
        .order_by("effective_expires_at", "pk")
    )


def check_certificates(now: datetime | None = None, *, actor: Actor = "scheduler") -> list[ExpiryAlert]:
    """Mail every active key whose most urgent crossed threshold has not been mailed yet.

    A key past several thresholds at once (a first run, a week without a worker) gets
    one mail, for the most urgent; the less urgent ones are recorded as done so that
    they never come later. Returns the mails delivered, in order of expiry.
    """
    now = now or timezone.now()
    levels = thresholds()
    delivered: list[ExpiryAlert] = []
    for signing_key in _keys_to_watch():
        reached = crossed(signing_key.days_left(now), levels)
        if not reached:
            continue
        # A cheap read skips what was sent long ago; the insert below settles races.
        already = set(signing_key.expiry_notices.values_list("threshold_days", flat=True))
        if reached[0] in already:
            continue
        _claim_and_send(signing_key, reached, now, actor, delivered)
    return delivered


def _claim_and_send(
    signing_key: SigningKey, reached: list[int], now: datetime, actor: Actor, delivered: list[ExpiryAlert]
) -> None:
    most_urgent = reached[0]
    try:
        with transaction.atomic():
            # The most urgent row first, then the rest in ascending order: every run
            # takes the rows' locks in the same order, so two runs on PostgreSQL wait
            # for each other instead of deadlocking, and the loser gets IntegrityError.
            ExpiryNotice.objects.create(signing_key=signing_key, threshold_days=most_urgent, sent_at=now)
            ExpiryNotice.objects.bulk_create(
                [
                    ExpiryNotice(signing_key=signing_key, threshold_days=level, sent_at=now)
                    for level in reached[1:]
                ],
                ignore_conflicts=True,
            )
            transaction.on_commit(lambda: _deliver(signing_key, most_urgent, now, actor, delivered))
    except IntegrityError:
        logger.info(
            "expiry notice %s days for key %s already sent by another run", most_urgent, signing_key.pk
        )


def _deliver(
    signing_key: SigningKey, threshold_days: int, now: datetime, actor: Actor, delivered: list[ExpiryAlert]
) -> None:
    try:
        recipients = emails.send_certificate_expiry(
            signing_key.pk, threshold_days=threshold_days, now=now, actor=actor
        )
    except Exception:
        # The mail did not leave (SMTP down, say): forget the claim so that the next
        # run tries again, rather than staying silent about an expiring certificate.
        logger.exception("expiry mail for key %s (%s days) failed", signing_key.pk, threshold_days)
        ExpiryNotice.objects.filter(signing_key=signing_key, threshold_days=threshold_days).delete()
        return
    authentication = signing_key.authentication
    delivered.append(
        ExpiryAlert(
            authentication_name=authentication.name if authentication else "",
            certificate_id=signing_key.certificate_id,
            threshold_days=threshold_days,
            days_left=signing_key.days_left(now),
            expires_at=signing_key.effective_expires_at,
            recipients=tuple(recipients),
        )
    )
