"""Rotating a signing key without an outage: add a pending key, verify it with NetSuite,
activate it, roll back to the previous key, and wipe retired keys after the retention.

The active key and the current token are untouched until activation, so consumers keep
getting tokens from the active key while the new one is proven.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone

from authentications import keygen, keypairs, netsuite, refresh, services, tokens
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.services import Actor, KeyMaterial, audit, user_of


class RotationError(Exception):
    """A rotation step refused; the message says why, for the administrator."""


class _Keep(Enum):
    KEEP = "keep"


# key_set_certificate_id(uploaded_at=KEEP): the pending key's upload day stays as it is.
KEEP = _Keep.KEEP


def pending_key(authentication: HttpAuthentication) -> SigningKey | None:
    return authentication.signing_keys.filter(state=SigningKey.State.PENDING).first()


def key_details(signing_key: SigningKey) -> dict[str, Any]:
    """What the audit trail says about a key: never its private key."""
    return {
        "signing_key_id": signing_key.pk,
        "certificate_id": signing_key.certificate_id,
        "fingerprint_sha256": signing_key.fingerprint_sha256,
        "key": signing_key.key_description,
    }


def locked(authentication: HttpAuthentication) -> HttpAuthentication:
    """The authentication re-read with its row locked, inside the caller's transaction."""
    # Every swap locks the authentication's row first, so two swaps run one after the other.
    return HttpAuthentication.objects.select_for_update().get(pk=authentication.pk)


def _refuse_second_pending(authentication: HttpAuthentication) -> None:
    existing = pending_key(authentication)
    if existing is not None:
        name = existing.certificate_id or existing.key_description
        raise RotationError(
            f"A rotation is already in progress (pending key {name}): finish or abandon it first."
        )


@transaction.atomic
def key_add_pending(
    *,
    authentication: HttpAuthentication,
    actor: Actor,
    key_material: KeyMaterial,
    ip_address: str | None = None,
) -> SigningKey:
    """Store a checked key (pasted, uploaded or generated) as the pending key of an authentication."""
    authentication = locked(authentication)
    _refuse_second_pending(authentication)
    signing_key = services._add_signing_key(
        authentication, key_material, actor, state=SigningKey.State.PENDING
    )
    audit(
        action=AuditEvent.Action.KEY_ADDED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details=key_details(signing_key),
    )
    return signing_key


@transaction.atomic
def authentication_update_with_pending_key(
    *,
    authentication: HttpAuthentication,
    actor: Actor,
    values: dict[str, Any],
    key_material: KeyMaterial,
    ip_address: str | None = None,
) -> SigningKey:
    """The edit form with a new key: the other fields are saved, the key becomes pending."""
    active = authentication.active_key()
    if (
        active is not None
        and keygen.fitting_algorithm(active.key_type, active.curve, values["jwt_algorithm"])
        != (values["jwt_algorithm"])
    ):
        # An algorithm chosen for the new kind of key would break the active one; activation sets it.
        # The stored value: a ModelForm has already changed the instance in place.
        stored = HttpAuthentication.objects.values_list("jwt_algorithm", flat=True).get(pk=authentication.pk)
        values = {**values, "jwt_algorithm": stored}
    services.authentication_update(
        authentication=authentication, actor=actor, values=values, key_material=None, ip_address=ip_address
    )
    return key_add_pending(
        authentication=authentication, actor=actor, key_material=key_material, ip_address=ip_address
    )


@transaction.atomic
def key_generate_pending(
    *,
    authentication: HttpAuthentication,
    actor: Actor,
    kind: str,
    days: int,
    common_name: str,
    ip_address: str | None = None,
) -> SigningKey:
    """Generate a key pair in nsconnect as the pending key; its Certificate ID comes later."""
    authentication = locked(authentication)
    _refuse_second_pending(authentication)
    signing_key = keypairs.key_pair_generate(
        actor=actor, kind=kind, days=days, common_name=common_name, ip_address=ip_address
    )
    signing_key.authentication = authentication
    signing_key.save(update_fields=["authentication"])
    audit(
        action=AuditEvent.Action.KEY_ADDED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details=key_details(signing_key),
    )
    return signing_key


def _pending(authentication: HttpAuthentication, signing_key_id: int, *, lock: bool = False) -> SigningKey:
    keys_ = SigningKey.objects.select_for_update() if lock else SigningKey.objects
    signing_key = keys_.filter(
        pk=signing_key_id, authentication=authentication, state=SigningKey.State.PENDING
    ).first()
    if signing_key is None:
        raise RotationError("This pending key is gone: it was activated or abandoned meanwhile.")
    return signing_key


@transaction.atomic
def key_set_certificate_id(
    *,
    authentication: HttpAuthentication,
    signing_key_id: int,
    certificate_id: str,
    actor: Actor,
    ip_address: str | None = None,
    uploaded_at: datetime | None | Literal[_Keep.KEEP] = KEEP,
) -> SigningKey:
    """Record the Certificate ID NetSuite gave the pending key's certificate, and when it was
    uploaded there (None: unknown; KEEP: as it is). A new ID needs a new verify; the change is audited."""
    signing_key = _pending(authentication, signing_key_id, lock=True)
    active = authentication.active_key()
    if active is not None and active.certificate_id == certificate_id:
        raise RotationError(
            "This is the current key's Certificate ID. Upload the new certificate in NetSuite and "
            "enter the Certificate ID it shows."
        )
    if isinstance(uploaded_at, datetime) and uploaded_at > timezone.now():
        raise RotationError("The day the certificate was uploaded to NetSuite cannot be in the future.")
    old_certificate_id = signing_key.certificate_id
    if uploaded_at is _Keep.KEEP and not old_certificate_id and signing_key.uploaded_at is None:
        # A key generated here gets its first Certificate ID once its certificate is in NetSuite:
        # uploaded about now, when nobody said otherwise.
        uploaded_at = timezone.now()
    changed: list[str] = []
    if old_certificate_id != certificate_id:
        signing_key.certificate_id = certificate_id
        signing_key.verified_at = None
        changed += ["certificate_id", "verified_at"]
    if uploaded_at is not _Keep.KEEP and uploaded_at != signing_key.uploaded_at:
        signing_key.set_uploaded_at(uploaded_at)
        changed += ["uploaded_at", "effective_expires_at"]
    if not changed:
        return signing_key
    signing_key.save(update_fields=changed)
    audit(
        action=AuditEvent.Action.KEY_CERTIFICATE_ID_SET,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details={
            "signing_key_id": signing_key.pk,
            "old_certificate_id": old_certificate_id,
            "certificate_id": certificate_id,
            "fingerprint_sha256": signing_key.fingerprint_sha256,
            "uploaded_at": signing_key.uploaded_at.isoformat() if signing_key.uploaded_at else None,
            "effective_expires_at": signing_key.effective_expires_at.isoformat(),
        },
    )
    return signing_key


def key_record_upload(*, signing_key: SigningKey, uploaded_at: datetime) -> bool:
    """Note that NetSuite took the pending key's certificate at uploaded_at, unless an upload day
    is already known; NetSuite's two years then count from it. True when it was recorded."""
    recorded = SigningKey.objects.filter(
        pk=signing_key.pk, state=SigningKey.State.PENDING, uploaded_at__isnull=True
    ).update(
        uploaded_at=uploaded_at,
        effective_expires_at=signing_key.expiry_if_uploaded_at(uploaded_at),
    )
    return bool(recorded)


def _credentials(authentication: HttpAuthentication, signing_key: SigningKey) -> netsuite.Credentials:
    # The authentication's algorithm belongs to its active key; another kind of key needs its own.
    credentials = tokens.credentials_for(authentication, signing_key)
    algorithm = keygen.fitting_algorithm(
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
        raise RotationError(
            "This authentication is disabled, so nsconnect asks NetSuite nothing for it: "
            "enable it on the edit page to verify or roll back keys."
        )
    try:
        tokens.token_probe(credentials=_credentials(authentication, signing_key))
    except Exception as caught:
        # Whatever went wrong (a hostile answer, a key that no longer decrypts) is a refusal
        # the wizard shows, never a 500 page.
        error = tokens.failure_for(caught, what="while verifying the key")
        audit(
            action=AuditEvent.Action.KEY_VERIFY_FAILED,
            authentication=authentication,
            actor=actor,
            ip_address=ip_address,
            details={
                **key_details(signing_key),
                "purpose": purpose,
                "kind": error.kind,
                "status": error.status,
                "error": error.error_code,
                "message": error.message,
            },
        )
        raise RotationError(f"NetSuite did not give a token with this key: {error.message}") from None


def key_verify(
    *, authentication: HttpAuthentication, signing_key_id: int, actor: Actor, ip_address: str | None = None
) -> SigningKey:
    """Retrieve a token with the pending key without storing it; record verified_at on success."""
    signing_key = _pending(authentication, signing_key_id)
    if not signing_key.certificate_id:
        raise RotationError("Enter the Certificate ID NetSuite gave the new certificate first.")
    verified = (signing_key.certificate_id, signing_key.fingerprint_sha256)
    # No transaction around the HTTP request: it holds no lock while NetSuite answers.
    key_probe(authentication, signing_key, actor, ip_address, "rotation")
    with transaction.atomic():
        signing_key = _pending(authentication, signing_key_id, lock=True)
        if (signing_key.certificate_id, signing_key.fingerprint_sha256) != verified:
            raise RotationError("The Certificate ID changed while it was verified: verify again.")
        signing_key.verified_at = timezone.now()
        signing_key.save(update_fields=["verified_at"])
        audit(
            action=AuditEvent.Action.KEY_VERIFIED,
            authentication=authentication,
            actor=actor,
            ip_address=ip_address,
            details=key_details(signing_key),
        )
    return signing_key


def swap_active_key(
    authentication: HttpAuthentication, new: SigningKey, actor: Actor, now: datetime
) -> SigningKey | None:
    """Retire the active key and activate `new` (a pending key, or the previous key on rollback)
    inside the caller's transaction, which a RotationError rolls back.

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
        raise RotationError(
            "The key was wiped, revoked or changed meanwhile, so it was not activated: the active key "
            "stays as it was. Look at the key history."
        )
    new.state = SigningKey.State.ACTIVE
    new.activated_at, new.activated_by = now, user_of(actor)
    new.retired_at = new.retired_by = None
    authentication.jwt_algorithm = keygen.fitting_algorithm(
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
    authentication = locked(authentication)
    signing_key = _pending(authentication, signing_key_id, lock=True)
    if signing_key.verified_at is None:
        raise RotationError(
            "Verify the new key first: activate follows a successful token retrieval with it."
        )
    if (signing_key.certificate_id, signing_key.fingerprint_sha256) != (certificate_id, fingerprint_sha256):
        raise RotationError("The pending key changed since it was verified: verify it again.")
    old = swap_active_key(authentication, signing_key, actor, timezone.now())
    audit(
        action=AuditEvent.Action.KEY_ACTIVATED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details={**key_details(signing_key), "previous_certificate_id": old.certificate_id if old else None},
    )
    return signing_key


@transaction.atomic
def key_abandon(
    *, authentication: HttpAuthentication, signing_key_id: int, actor: Actor, ip_address: str | None = None
) -> None:
    signing_key = _pending(authentication, signing_key_id, lock=True)
    details = key_details(signing_key)
    signing_key.delete()
    audit(
        action=AuditEvent.Action.KEY_ABANDONED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details=details,
    )


def token_after_swap(
    *, authentication: HttpAuthentication, actor: Actor, ip_address: str | None = None
) -> str:
    """Replace the current token by one from the newly active key (single flight).

    Returns a problem to show, or "" on success. A failure keeps the swap: the key was verified.
    """
    authentication.refresh_from_db()
    try:
        refresh.token_get(authentication=authentication, actor=actor, fresh=True, ip_address=ip_address)
    except netsuite.TokenRequestError as error:
        return error.message
    return ""
