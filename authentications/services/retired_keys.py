"""Retired signing keys: rolling back to the previous one within the retention, and
wiping their private keys after it (the rows stay, for the key history).

A rollback and the daily wipe may run at the same moment: each changes a key only by a
conditional update from the state it expects, so a key is either re-activated with its
private key or wiped while retired, never both.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from authentications import selectors
from authentications.keys.loaded_keys import forget_loaded_key
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.services.audit_trail import Actor, audit
from authentications.services.rotation import key_probe, swap_active_key
from authentications.services.rotation_base import RotationError, key_details, locked


def key_rollback(
    *, authentication: HttpAuthentication, actor: Actor, ip_address: str | None = None
) -> SigningKey:
    """Reactivate the previous key after a token was retrieved with it; the caller then mints a token."""
    previous = selectors.rollback_candidate(authentication)
    if previous is None:
        raise RotationError(
            "There is no previous key to roll back to: none was retired within the retention, "
            "or its private key was wiped, its certificate revoked in NetSuite, or expired."
        )
    key_probe(authentication, previous, actor, ip_address, "rollback")
    with transaction.atomic():
        authentication = locked(authentication)
        if selectors.rollback_candidate(authentication) != previous:
            raise RotationError("The keys changed meanwhile: look at the key history and try again.")
        previous.verified_at = timezone.now()
        # Re-activates only if the key is still retired, unwiped and unrevoked at this very
        # moment (the wipe does not take the authentication's lock): else nothing changes.
        old = swap_active_key(authentication, previous, actor, timezone.now())
        audit(
            action=AuditEvent.Action.KEY_ROLLED_BACK,
            authentication=authentication,
            actor=actor,
            ip_address=ip_address,
            details={**key_details(previous), "previous_certificate_id": old.certificate_id if old else None},
        )
    return previous


def keys_wipe_retired(*, actor: Actor = "scheduler", now: datetime | None = None) -> list[int]:
    """Empty the private key of every key retired longer than the retention; the row stays.

    Safe to run twice and in parallel: each key is claimed by a conditional update.
    Returns the ids of the keys wiped by this run.
    """
    now = now or timezone.now()
    # Each condition is checked again by the claim: a key rolled back (active again) or
    # retired anew since this list was read is not wiped.
    conditions = {
        "state": SigningKey.State.RETIRED,
        "wiped_at__isnull": True,
        "retired_at__lte": now - selectors.retention(),
    }
    due = SigningKey.objects.filter(**conditions).select_related("authentication")
    wiped = []
    for signing_key in due.defer("private_key"):
        with transaction.atomic():
            claimed = SigningKey.objects.filter(pk=signing_key.pk, **conditions).update(
                private_key="", wiped_at=now
            )
            if not claimed:
                continue  # another run got there first
            audit(
                action=AuditEvent.Action.KEY_WIPED,
                authentication=signing_key.authentication,
                actor=actor,
                details={
                    **key_details(signing_key),
                    "retired_at": signing_key.retired_at.isoformat() if signing_key.retired_at else None,
                },
            )
        # This process's loaded copy goes too; others age out of their small caches.
        forget_loaded_key((signing_key.pk, signing_key.fingerprint_sha256))
        wiped.append(signing_key.pk)
    return wiped
