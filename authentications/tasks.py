"""Celery tasks: the scheduler's interface to refresh.py. They take ids, never secrets,
and return short statuses without secrets, so running one twice is harmless."""

from __future__ import annotations

from celery import shared_task

from authentications import expiry, retired_keys
from authentications.refresh import authentications_due, refresh_scheduled

# Just under the sweep's minute: a refresh still queued by then is enqueued again by
# the next sweep, so older copies can go rather than pile up behind a slow NetSuite.
REFRESH_EXPIRES_SECONDS = 55


# Results are kept only where CELERY_RESULT_BACKEND is set; they hold no secret.
@shared_task(ignore_result=False)
def sweep_tokens() -> int:
    """Enqueue one refresh per authentication whose token is due; return how many."""
    due = authentications_due()
    for authentication_id in due:
        refresh_token.delay(authentication_id)
    return len(due)


@shared_task(expires=REFRESH_EXPIRES_SECONDS, ignore_result=False)
def refresh_token(authentication_id: int) -> str:
    """Refresh one authentication's token if it is still due (single flight)."""
    return refresh_scheduled(authentication_id)


@shared_task(ignore_result=False)
def check_certificates() -> int:
    """Mail the certificate-expiry alerts that are due (daily); return how many went out."""
    return len(expiry.check_certificates())


@shared_task(ignore_result=False)
def wipe_retired_keys() -> int:
    """Empty the private keys retired longer than the retention (daily); return how many."""
    return len(retired_keys.keys_wipe_retired(actor="scheduler"))
