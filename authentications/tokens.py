"""One attempt at a token, and what it leaves behind: the token, the status, back-off, alerts.

Single flight (who may attempt) is in refresh.py; this module is what an attempt does.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from authentications import emails, netsuite
from authentications.keys import load_stored_private_key
from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from authentications.services import Actor, audit

logger = logging.getLogger(__name__)

# Answers that say the credentials are wrong: retrying cannot help until a person acts.
CREDENTIAL_ERRORS = frozenset({"invalid_client", "invalid_request", "invalid_scope", "invalid_grant"})
FIRST_RETRY_SECONDS = 60
LAST_RETRY_SECONDS = 3600
FAILURES_BEFORE_ALERT = 3
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


def credentials_for(authentication: HttpAuthentication, signing_key: SigningKey) -> netsuite.Credentials:
    private_key = load_stored_private_key(
        (signing_key.pk, signing_key.fingerprint_sha256), signing_key.private_key
    )
    return netsuite.Credentials(
        consumer_key=authentication.consumer_key,
        certificate_id=signing_key.certificate_id,
        algorithm=authentication.jwt_algorithm,
        scopes=authentication.scope_list,
        token_url=authentication.token_url,
        private_key=private_key,
    )


def token_probe(*, credentials: netsuite.Credentials) -> netsuite.TokenResponse:
    """Retrieve a token with values that are not saved (the form's Retrieve button); store nothing."""
    return netsuite.request_token(credentials, timezone.now())


# Up to 10% more, so that many authentications failing together do not retry together.
jitter: Callable[[], float] = random.random


def backoff_delay(failures: int) -> timedelta:
    """1 minute after the first failure, doubling each time, never more than an hour."""
    base = min(LAST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, failures - 1))
    return timedelta(seconds=min(LAST_RETRY_SECONDS, base * (1 + 0.1 * jitter())))


def token_retrieve(
    *, authentication: HttpAuthentication, actor: Actor, ip_address: str | None = None
) -> AccessToken:
    """Ask NetSuite for a token with the active key and make it the current one.

    Callers that may run concurrently go through refresh.token_get (single flight).
    On failure the previous token and key stay as they were; the status, back-off
    and audit trail record it, and the TokenRequestError is raised again.
    """
    signing_key = authentication.active_key()
    if signing_key is None:
        raise netsuite.TokenRequestError("no_key", "This authentication has no active signing key.")
    now = timezone.now()
    try:
        response = netsuite.request_token(credentials_for(authentication, signing_key), now)
    except netsuite.TokenRequestError as error:
        _record_failure(authentication, signing_key, error, actor, ip_address, now)
        raise
    expires_at = response.expires_at(now)
    with transaction.atomic():
        row = HttpAuthentication.objects.select_for_update().get(pk=authentication.pk)
        recovered = row.failure_alert_sent
        token, _ = AccessToken.objects.update_or_create(
            authentication=row,
            defaults={
                "value": response.access_token,
                "token_type": response.token_type,
                "obtained_at": now,
                "expires_at": expires_at,
                "signing_key": signing_key,
            },
        )
        row.last_success_at = now
        row.last_error = row.last_error_kind = ""
        row.failing_since = row.next_attempt_at = None
        row.consecutive_failures = 0
        row.retries_stopped = row.failure_alert_sent = False
        row.save(update_fields=STATUS_FIELDS)
        audit(
            action=AuditEvent.Action.TOKEN_RETRIEVED,
            authentication=row,
            actor=actor,
            ip_address=ip_address,
            details={"certificate_id": signing_key.certificate_id, "expires_at": expires_at.isoformat()},
        )
        if recovered:
            transaction.on_commit(lambda: emails.send_refresh_alert(row.pk, recovered=True))
    authentication.refresh_from_db(fields=STATUS_FIELDS)
    logger.info("token retrieved for %s, valid until %s", authentication.identifier, expires_at)
    return token


def _record_failure(
    authentication: HttpAuthentication,
    signing_key: SigningKey,
    error: netsuite.TokenRequestError,
    actor: Actor,
    ip_address: str | None,
    now: datetime,
) -> None:
    with transaction.atomic():
        row = HttpAuthentication.objects.select_for_update().get(pk=authentication.pk)
        # A real capture shows server_error for a key NetSuite does not know: twice
        # in a row is taken as a verdict on the credentials, once as an outage.
        credentials_wrong = error.kind in CREDENTIAL_ERRORS or (
            error.kind == "server_error" and row.last_error_kind == "server_error"
        )
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
        alert = not row.failure_alert_sent and (
            credentials_wrong or row.consecutive_failures >= FAILURES_BEFORE_ALERT
        )
        row.failure_alert_sent = row.failure_alert_sent or alert
        row.save(update_fields=STATUS_FIELDS)
        audit(
            action=AuditEvent.Action.TOKEN_FAILED,
            authentication=row,
            actor=actor,
            ip_address=ip_address,
            details={
                "certificate_id": signing_key.certificate_id,
                "kind": error.kind,
                "status": error.status,
                "error": error.error_code,
                "message": error.message,
                "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
                "retries_stopped": row.retries_stopped,
            },
        )
        if alert:
            transaction.on_commit(lambda: emails.send_refresh_alert(row.pk, recovered=False))
    authentication.refresh_from_db(fields=STATUS_FIELDS)
    logger.warning("token retrieval failed for %s: %s", authentication.identifier, error.message)
