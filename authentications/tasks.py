"""Celery tasks: the scheduler's interface to the services. They take ids, never secrets,
and return short statuses without secrets, so running one twice is harmless."""

from __future__ import annotations

import smtplib
from importlib import import_module

from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError

from authentications.services import (
    expiry_notices,
    key_pairs,
    refresh_alerts,
    retired_keys,
    token_attempt,
    token_sweep,
)
from authentications.services.token_single_flight import DatabaseUnavailable, refresh_scheduled
from authentications.services.token_sweep import due_batches

# Just under the sweep's minute: a refresh still queued by then is enqueued again by
# the next sweep, so older copies can go rather than pile up behind a slow NetSuite.
REFRESH_EXPIRES_SECONDS = 55
# A mail server that is down gets 30 s, 1, 2, 4 and 8 minutes (about a quarter of an hour)
# before the alert is given up and ALERT_FAILED is audited; the next failure tries again.
ALERT_MAX_RETRIES = 5
ALERT_FIRST_RETRY_SECONDS = 30
# A database that refuses connections for a while (a restart, a failover) costs a sweep or
# a refresh retries after 1, 2, 4, 8 and 16 s: about half a minute, inside the task's expiry.
# Longer than that, and the next sweep starts again.
DATABASE_MAX_RETRIES = 5
DATABASE_FIRST_RETRY_SECONDS = 1


def retry_soon(task: Task) -> str:
    """Send the task again after its back-off, while retries are left; else say it failed.

    Called directly (not by a worker), nothing could run it again: it just fails."""
    if task.request.called_directly or task.request.retries >= DATABASE_MAX_RETRIES:
        return f"failed: {token_attempt.DATABASE_FAILURE}"
    # Not the database's own error, whose message the worker would log on every retry.
    raise task.retry(
        countdown=DATABASE_FIRST_RETRY_SECONDS * 2**task.request.retries,
        exc=DatabaseUnavailable("the database could not be used"),
    ) from None


# Results are kept only where CELERY_RESULT_BACKEND is set; they hold no secret.
@shared_task(bind=True, max_retries=DATABASE_MAX_RETRIES, ignore_result=False)
def sweep_tokens(self: Task) -> int | str:
    """Enqueue the authentications whose token is due, in batches of whole NetSuite accounts,
    one per worker process; return how many (retried soon when the database fails the query,
    "failed: database" once the retries are spent)."""
    try:
        batches = due_batches()
    except DatabaseError as error:
        token_attempt.failure_for(error, what="while looking for due tokens")  # logs it, without values
        return retry_soon(self)
    for batch in batches:
        refresh_tokens.delay(batch, token_sweep.batch_in_flight(len(batches)))
    return sum(len(batch) for batch in batches)


@shared_task(
    bind=True,
    expires=REFRESH_EXPIRES_SECONDS,
    max_retries=DATABASE_MAX_RETRIES,
    ignore_result=False,
    # A batch starts refreshes for BATCH_SECONDS, and the last may run as long as any task.
    soft_time_limit=token_sweep.BATCH_SECONDS + settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=token_sweep.BATCH_SECONDS + settings.CELERY_TASK_TIME_LIMIT,
)
def refresh_tokens(self: Task, authentication_ids: list[int], in_flight: int) -> dict[str, int] | str:
    """Refresh a batch of due authentications, up to in_flight requests at once and
    NSCONNECT_ACCOUNT_CONCURRENCY per NetSuite account; return how many ended how. Those the
    database failed are tried again soon, as a smaller batch that waits out the leases the
    failure may have left behind (a first run leaves a held lease to its holder)."""
    refresh = token_sweep.refresh_waiting if self.request.retries else token_sweep.refresh_claimed
    try:
        outcome = token_sweep.refresh_batch(authentication_ids, in_flight=in_flight, refresh=refresh)
    except DatabaseError as error:
        token_attempt.failure_for(error, what="while reading a batch of due tokens")
        outcome = token_sweep.BatchOutcome(database_failed=list(authentication_ids))
    if outcome.database_failed:
        if self.request.called_directly or self.request.retries >= DATABASE_MAX_RETRIES:
            return f"failed: {token_attempt.DATABASE_FAILURE}"
        raise self.retry(
            args=(sorted(outcome.database_failed), in_flight),
            countdown=DATABASE_FIRST_RETRY_SECONDS * 2**self.request.retries,
            exc=DatabaseUnavailable("the database could not be used"),
        ) from None
    return token_sweep.status_counts(outcome)


@shared_task(
    bind=True, expires=REFRESH_EXPIRES_SECONDS, max_retries=DATABASE_MAX_RETRIES, ignore_result=False
)
def refresh_token(self: Task, authentication_id: int) -> str:
    """Refresh one authentication's token if it is still due (single flight, waiting for
    another holder); retried soon when the database failed it, since nothing was stored and
    NetSuite was not the problem. The sweep refreshes in batches (refresh_tokens) instead."""
    try:
        return refresh_scheduled(authentication_id)
    except DatabaseUnavailable:
        return retry_soon(self)


@shared_task(bind=True, max_retries=ALERT_MAX_RETRIES, ignore_result=False)
def send_refresh_alert(self: Task, authentication_id: int, recovered: bool) -> str:
    """Mail that token refresh keeps failing (or works again), retrying while the mail
    server cannot be reached; nothing that waits for a token waits for this."""
    try:
        return refresh_alerts.refresh_alert_deliver(authentication_id, recovered=recovered)
    except (smtplib.SMTPException, OSError) as error:
        if self.request.retries >= ALERT_MAX_RETRIES:
            refresh_alerts.refresh_alert_failed(authentication_id, recovered=recovered, error=error)
            return "failed"
        raise self.retry(countdown=ALERT_FIRST_RETRY_SECONDS * 2**self.request.retries) from None


@shared_task(ignore_result=False)
def check_certificates() -> int:
    """Mail the certificate-expiry alerts that are due (daily); return how many went out."""
    return len(expiry_notices.check_certificates())


@shared_task(ignore_result=False)
def wipe_retired_keys() -> int:
    """Empty the private keys retired longer than the retention (daily); return how many."""
    return len(retired_keys.keys_wipe_retired(actor="scheduler"))


@shared_task(ignore_result=False)
def delete_unused_key_pairs() -> int:
    """Delete the generated key pairs no authentication took within
    NSCONNECT_UNUSED_KEY_PAIR_DAYS (daily); return how many."""
    return len(key_pairs.key_pairs_delete_unused(actor="scheduler"))


@shared_task(ignore_result=False)
def clear_expired_sessions() -> str:
    """Delete the sessions past their idle limit (daily): Django leaves them in the database."""
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()
    return "cleared"
