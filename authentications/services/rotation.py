"""The second half of a rotation: verify the pending key with NetSuite, activate it (the swap
of active keys, one row lock at a time), and the token that follows the swap.

The active key and the current token are untouched until activation, so consumers keep
getting tokens from the active key while the new one is proven.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from authentications.keys import generation
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.netsuite import assertion, http_exchange
from authentications.services import rotation_base, token_attempt, token_single_flight
from authentications.services.audit_trail import Actor, audit, user_of

NOT_VERIFIED = "Verify the new key first: activate follows a successful token retrieval with it."


def _credentials(authentication: HttpAuthentication, signing_key: SigningKey) -> assertion.Credentials:
    # The authentication's algorithm belongs to its active key; another kind of key needs its own.
    credentials = token_attempt.credentials_for(authentication, signing_key)
    algorithm = generation.fitting_algorithm(
        signing_key.key_type, signing_key.curve, authentication.jwt_algorithm
    )
    return dataclasses.replace(credentials, algorithm=algorithm)


def key_probe(
    authentication: HttpAuthentication,
    signing_key: SigningKey,
    actor: Actor,
    ip_address: str | None,
    purpose: str,
) -> None:
    """Ask NetSuite for a token with this key, storing none; a refusal is audited and raised."""
    # Read now, not from the caller's copy: a record disabled meanwhile asks NetSuite nothing.
    if not HttpAuthentication.objects.filter(pk=authentication.pk, enabled=True).exists():
        raise rotation_base.RotationError(
            "This authentication is disabled, so nsconnect asks NetSuite nothing for it: "
            "enable it on the edit page to verify or roll back keys."
        )
    try:
        token_attempt.token_probe(credentials=_credentials(authentication, signing_key))
    except Exception as caught:
        # Whatever went wrong (a hostile answer, a key that no longer decrypts) is a refusal
        # the wizard shows, never a 500 page.
        error = token_attempt.failure_for(caught, what="while verifying the key")
        audit(
            action=AuditEvent.Action.KEY_VERIFY_FAILED,
            authentication=authentication,
            actor=actor,
            ip_address=ip_address,
            details={
                **rotation_base.key_details(signing_key),
                "purpose": purpose,
                "kind": error.kind,
                "status": error.status,
                "error": error.error_code,
                "message": error.message,
            },
        )
        raise rotation_base.RotationError(
            f"NetSuite did not give a token with this key: {error.message}"
        ) from None


def key_verify(
    *, authentication: HttpAuthentication, signing_key_id: int, actor: Actor, ip_address: str | None = None
) -> SigningKey:
    """Retrieve a token with the pending key without storing it; record verified_at on success."""
    signing_key = rotation_base.pending_key_by_id(authentication, signing_key_id)
    if not signing_key.certificate_id:
        raise rotation_base.RotationError("Enter the Certificate ID NetSuite gave the new certificate first.")
    verified = (signing_key.certificate_id, signing_key.fingerprint_sha256)
    # No transaction around the HTTP request: it holds no lock while NetSuite answers.
    key_probe(authentication, signing_key, actor, ip_address, "rotation")
    with transaction.atomic():
        signing_key = rotation_base.pending_key_by_id(authentication, signing_key_id, lock=True)
        if (signing_key.certificate_id, signing_key.fingerprint_sha256) != verified:
            raise rotation_base.RotationError(
                "The Certificate ID changed while it was verified: verify again."
            )
        signing_key.verified_at = timezone.now()
        signing_key.save(update_fields=["verified_at"])
        audit(
            action=AuditEvent.Action.KEY_VERIFIED,
            authentication=authentication,
            actor=actor,
            ip_address=ip_address,
            details=rotation_base.key_details(signing_key),
        )
    return signing_key


def swap_active_key(
    authentication: HttpAuthentication, new: SigningKey, actor: Actor, now: datetime
) -> SigningKey | None:
    """Retire the active key and activate `new` (a pending key, or the previous key on rollback)
    inside the caller's transaction, which a rotation_base.RotationError rolls back.

    Conditional updates, never save(): the daily wipe or a revocation may have changed `new`
    since it was read, and an active key without its private key would stop every token.
    """
    old = authentication.signing_keys.select_for_update().filter(state=SigningKey.State.ACTIVE).first()
    if old is not None:
        # Retired first: the database allows one active key per authentication.
        SigningKey.objects.filter(pk=old.pk, state=SigningKey.State.ACTIVE).update(
            state=SigningKey.State.RETIRED, retired_at=now, retired_by=user_of(actor)
        )
        old.state, old.retired_at, old.retired_by = SigningKey.State.RETIRED, now, user_of(actor)
    # Only from the state it was read in, still holding its private key, not wiped or revoked.
    activated = (
        SigningKey.objects.filter(
            pk=new.pk,
            authentication=authentication,
            state=new.state,
            wiped_at__isnull=True,
            revoked_at__isnull=True,
        )
        .exclude(private_key="")
        .update(
            state=SigningKey.State.ACTIVE,
            activated_at=now,
            activated_by=user_of(actor),
            retired_at=None,
            retired_by=None,
            verified_at=new.verified_at,
        )
    )
    if not activated:
        raise rotation_base.RotationError(
            "The key was wiped, revoked or changed meanwhile, so it was not activated: the active key "
            "stays as it was. Look at the key history."
        )
    new.state = SigningKey.State.ACTIVE
    new.activated_at, new.activated_by = now, user_of(actor)
    new.retired_at = new.retired_by = None
    authentication.jwt_algorithm = generation.fitting_algorithm(
        new.key_type, new.curve, authentication.jwt_algorithm
    )
    # A new key deserves a new attempt, even after NetSuite refused the old one.
    authentication.retries_stopped = False
    authentication.next_attempt_at = None
    authentication.save(update_fields=["jwt_algorithm", "retries_stopped", "next_attempt_at"])
    return old


@transaction.atomic
def key_activate(
    *,
    authentication: HttpAuthentication,
    signing_key_id: int,
    actor: Actor,
    certificate_id: str,
    fingerprint_sha256: str,
    ip_address: str | None = None,
) -> SigningKey:
    """Make the verified pending key active and retire the old one; the caller then mints a token.

    certificate_id and fingerprint_sha256 are what the administrator saw verified: a key
    changed since then is refused.
    """
    authentication = rotation_base.locked(authentication)
    signing_key = rotation_base.pending_key_by_id(authentication, signing_key_id, lock=True)
    if signing_key.verified_at is None:
        raise rotation_base.RotationError(NOT_VERIFIED)
    if (signing_key.certificate_id, signing_key.fingerprint_sha256) != (certificate_id, fingerprint_sha256):
        raise rotation_base.RotationError("The pending key changed since it was verified: verify it again.")
    old = swap_active_key(authentication, signing_key, actor, timezone.now())
    audit(
        action=AuditEvent.Action.KEY_ACTIVATED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details={
            **rotation_base.key_details(signing_key),
            "previous_certificate_id": old.certificate_id if old else None,
        },
    )
    return signing_key


def token_after_swap(
    *, authentication: HttpAuthentication, actor: Actor, ip_address: str | None = None
) -> str:
    """Replace the current token by one from the newly active key (single flight).

    Returns a problem to show, or "" on success. A failure keeps the swap: the key was verified.
    """
    authentication.refresh_from_db()
    try:
        token_single_flight.token_get(
            authentication=authentication, actor=actor, fresh=True, ip_address=ip_address
        )
    except http_exchange.TokenRequestError as error:
        return error.message
    return ""
