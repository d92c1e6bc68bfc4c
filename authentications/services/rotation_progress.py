"""Where a rotation stands, as the wizard shows it: its steps (done, current, next), the rotation
just completed while its previous key is kept for rollback, and the kind a new key starts on.

Read from the stored keys and the audit trail, never from a message in the session, so the page
says the same after a reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from authentications import selectors
from authentications.keys import generation
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.services import rotation_base

STEPS = ("New key", "Certificate in NetSuite", "Verify", "Activate", "Rotation complete")
NEW_KEY, CERTIFICATE_ID, VERIFY, ACTIVATE, COMPLETE = range(1, len(STEPS) + 1)


@dataclass(frozen=True)
class Step:
    number: int
    label: str
    status: str  # "done", "current" or "next": said in words on the page, not by colour alone


@dataclass(frozen=True)
class CompletedRotation:
    """A rotation whose new key is active while the key it replaced can still be rolled back to."""

    new_key: SigningKey
    previous_key: SigningKey
    # The retention ends it, or the previous certificate's expiry if that comes first.
    rollback_until: datetime


@dataclass(frozen=True)
class Progress:
    pending_key: SigningKey | None
    completed: CompletedRotation | None
    step: int
    steps: list[Step]


def _last_swap_was_an_activation(authentication: HttpAuthentication, active: SigningKey) -> bool:
    # A rollback swaps keys too, and leaves the same shape of rows behind (an active key, a
    # retired one to go back to); only the trail says which way the last swap went.
    last_swap = (
        AuditEvent.objects.filter(
            authentication=authentication,
            action__in=[AuditEvent.Action.KEY_ACTIVATED, AuditEvent.Action.KEY_ROLLED_BACK],
        )
        .order_by("-pk")
        .values_list("action", "details")
        .first()
    )
    return (
        last_swap is not None
        and last_swap[0] == AuditEvent.Action.KEY_ACTIVATED
        and isinstance(last_swap[1], dict)
        and last_swap[1].get("signing_key_id") == active.pk
    )


def completed_rotation(
    authentication: HttpAuthentication, now: datetime | None = None
) -> CompletedRotation | None:
    """The rotation activated last, as long as its previous key can still be rolled back to (not
    wiped, not revoked, inside the retention); None otherwise, or after a rollback."""
    now = now or timezone.now()
    previous = selectors.rollback_candidate(authentication, now)
    active = authentication.active_key()
    if previous is None or active is None or previous.retired_at is None:
        return None
    if not _last_swap_was_an_activation(authentication, active):
        return None
    until = min(previous.retired_at + selectors.retention(), previous.effective_expires_at)
    return CompletedRotation(new_key=active, previous_key=previous, rollback_until=until)


def steps(current: int) -> list[Step]:
    return [
        Step(number, label, "done" if number < current else "current" if number == current else "next")
        for number, label in enumerate(STEPS, start=1)
    ]


def rotation_progress(authentication: HttpAuthentication) -> Progress:
    """The step the authentication's rotation is at: a pending key's, or complete, or a new key."""
    pending = selectors.pending_key(authentication)
    completed = None
    if pending is None:
        completed = completed_rotation(authentication)
        step = COMPLETE if completed else NEW_KEY
    elif not pending.certificate_id:
        step = CERTIFICATE_ID
    else:
        step = ACTIVATE if pending.verified_at else VERIFY
    return Progress(pending_key=pending, completed=completed, step=step, steps=steps(step))


def new_key_kind(authentication: HttpAuthentication) -> str:
    """The kind a new key starts on: that of the active key, or the default for a key of a size
    or curve nsconnect does not generate."""
    active = authentication.active_key()
    kind = rotation_base.key_kind(active) if active is not None else None
    return kind or generation.DEFAULT_KIND
