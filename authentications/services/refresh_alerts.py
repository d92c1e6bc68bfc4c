"""The mail that says a refresh keeps failing, or has recovered: enqueued to the worker (ids
only), delivered there, and audited either way."""

from __future__ import annotations

import logging

from authentications import emails
from authentications.models import AuditEvent, HttpAuthentication
from authentications.services.audit_trail import audit

logger = logging.getLogger(__name__)


def enqueue_refresh_alert(authentication_id: int, *, recovered: bool) -> None:
    """Hand the alert to the mail task (an id and a flag, never a secret). A broker that
    cannot take it is logged: the next failure enqueues the alert again."""
    from authentications import tasks  # imported here: tasks imports this module

    try:
        tasks.send_refresh_alert.delay(authentication_id, recovered)
    except Exception as error:
        logger.error("refresh alert for %s not enqueued: %s", authentication_id, type(error).__name__)


def refresh_alert_deliver(authentication_id: int, *, recovered: bool) -> str:
    """Send one refresh alert if it is still wanted; what the mail backend raises is raised.

    A failure alert is claimed with a conditional update, so of two tasks (or a task run
    twice) one sends; the claim is undone when sending fails, so the flag stays true
    only for an alert that went out.
    """
    if recovered:
        emails.send_refresh_alert(authentication_id, recovered=True)
        return "sent"
    still_failing = HttpAuthentication.objects.filter(
        pk=authentication_id, failure_alert_sent=False, consecutive_failures__gt=0
    )
    if not still_failing.update(failure_alert_sent=True):
        return "not needed"  # sent by another task, or the failures ended meanwhile
    try:
        emails.send_refresh_alert(authentication_id, recovered=False)
    except Exception:
        HttpAuthentication.objects.filter(pk=authentication_id).update(failure_alert_sent=False)
        raise
    return "sent"


def refresh_alert_failed(authentication_id: int, *, recovered: bool, error: BaseException) -> None:
    """The mail task gave up: leave the reason in the audit trail (no secret is in it)."""
    authentication = HttpAuthentication.objects.filter(pk=authentication_id).first()
    if authentication is None:
        return
    audit(
        action=AuditEvent.Action.ALERT_FAILED,
        authentication=authentication,
        actor="scheduler",
        details={
            "email": "refresh_recovered" if recovered else "refresh_failing",
            "error": f"{type(error).__name__}: {error}"[:300],
        },
    )
    logger.error("refresh alert for %s not sent: %s", authentication.identifier, type(error).__name__)
