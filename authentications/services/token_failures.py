"""What a failed token attempt leaves on its authentication: the status and back-off (or
retries stopped, when the credentials are wrong), the audit event, and the failure alert,
enqueued on commit through refresh_alerts. token_attempt calls it; the success path, which
clears the same STATUS_FIELDS, stays there.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction

from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.netsuite.http_exchange import TokenRequestError
from authentications.services import refresh_alerts
from authentications.services.audit_trail import Actor, audit

logger = logging.getLogger(__name__)

# Answers that say the credentials are wrong: retrying cannot help until a person acts.
# server_error is not one of them: NetSuite answers it during outages too, and a record
# stopped for good by an outage would stay stopped after NetSuite recovers.
CREDENTIAL_ERRORS = frozenset({"invalid_client", "invalid_request", "invalid_scope", "invalid_grant"})
FIRST_RETRY_SECONDS = 60
LAST_RETRY_SECONDS = 3600
FAILURES_BEFORE_ALERT = 3
# The status every attempt writes, success or failure.
STATUS_FIELDS = [
    "last_success_at",
    "last_error",
    "last_error_kind",
    "failing_since",
    "consecutive_failures",
    "next_attempt_at",
    "retries_stopped",
    "failure_alert_sent",
]

# Up to 10% more, so that many authentications failing together do not retry together.
jitter: Callable[[], float] = random.random


def backoff_delay(failures: int) -> timedelta:
    """1 minute after the first failure, doubling each time, never more than an hour."""
    base = min(LAST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, failures - 1))
    return timedelta(seconds=min(LAST_RETRY_SECONDS, base * (1 + 0.1 * jitter())))


def _failure_details(signing_key: SigningKey | None, error: TokenRequestError) -> dict[str, object]:
    return {
        "certificate_id": signing_key.certificate_id if signing_key else "",
        "kind": error.kind,
        "status": error.status,
        "error": error.error_code,
        "message": error.message,
    }


def audit_discarded(
    authentication: HttpAuthentication,
    signing_key: SigningKey | None,
    error: TokenRequestError,
    actor: Actor,
    ip_address: str | None,
) -> None:
    """Audit a token discarded because the credentials changed while it was being retrieved."""
    # Not a failure of the credentials now on the record (they were not tried): the
    # status and back-off stay as the edit left them.
    try:
        audit(
            action=AuditEvent.Action.TOKEN_FAILED,
            authentication=authentication,
            actor=actor,
            ip_address=ip_address,
            details=_failure_details(signing_key, error),
        )
    except DatabaseError as db_error:
        logger.warning("could not audit a discarded token: %s", type(db_error).__name__)


def record_failure(
    authentication: HttpAuthentication,
    signing_key: SigningKey | None,
    error: TokenRequestError,
    actor: Actor,
    ip_address: str | None,
    now: datetime,
) -> None:
    """Status, back-off, audit event and (on commit) the alert; if the database allows."""
    try:
        _write_failure(authentication, signing_key, error, actor, ip_address, now)
    except DatabaseError as db_error:
        # The caller still gets the failure; the next attempt records what it meets.
        logger.warning(
            "could not record the failure for %s: %s", authentication.identifier, type(db_error).__name__
        )
    logger.warning("token retrieval failed for %s: %s", authentication.identifier, error.message)


def _write_failure(
    authentication: HttpAuthentication,
    signing_key: SigningKey | None,
    error: TokenRequestError,
    actor: Actor,
    ip_address: str | None,
    now: datetime,
) -> None:
    with transaction.atomic():
        row = HttpAuthentication.objects.select_for_update().get(pk=authentication.pk)
        credentials_wrong = error.kind in CREDENTIAL_ERRORS
        row.consecutive_failures += 1
        row.failing_since = row.failing_since or now
        row.last_error = error.message
        row.last_error_kind = error.kind
        row.retries_stopped = credentials_wrong
        if credentials_wrong:
            row.next_attempt_at = None
        else:
            delay = backoff_delay(row.consecutive_failures)
            if error.retry_after:
                delay = max(delay, timedelta(seconds=min(error.retry_after, LAST_RETRY_SECONDS)))
            row.next_attempt_at = now + delay
        # failure_alert_sent is set by the mail task when it sends, not here: it says
        # what went out, so a mail server that is down cannot swallow the alert.
        alert = not row.failure_alert_sent and (
            credentials_wrong or row.consecutive_failures >= FAILURES_BEFORE_ALERT
        )
        row.save(update_fields=STATUS_FIELDS)
        audit(
            action=AuditEvent.Action.TOKEN_FAILED,
            authentication=row,
            actor=actor,
            ip_address=ip_address,
            details={
                **_failure_details(signing_key, error),
                "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
                "retries_stopped": row.retries_stopped,
            },
        )
        if alert:
            transaction.on_commit(lambda: refresh_alerts.enqueue_refresh_alert(row.pk, recovered=False))
    authentication.refresh_from_db(fields=STATUS_FIELDS)
