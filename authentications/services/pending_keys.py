"""The first half of a rotation: a pending key added (pasted, generated, or from the edit
form), its Certificate ID and upload day set, or abandoned."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Literal

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.db import transaction
from django.utils import timezone

from authentications import selectors
from authentications.keys import generation
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.services import authentication_records, key_pairs, rotation_base
from authentications.services.audit_trail import Actor, audit, user_of
from authentications.services.authentication_records import KeyMaterial


class _Keep(Enum):
    KEEP = "keep"


# key_set_certificate_id(uploaded_at=KEEP): the pending key's upload day stays as it is.
KEEP = _Keep.KEEP


# A Generate that the same person sends again with the same values this soon after the first
# (a double click, a form sent twice) is that first press, not a second rotation: it gets the
# key the first one made rather than an error about it.
SAME_GENERATE_WITHIN = timedelta(seconds=10)


def _refuse_second_pending(authentication: HttpAuthentication) -> None:
    existing = selectors.pending_key(authentication)
    if existing is not None:
        raise _in_progress(existing)


def _in_progress(existing: SigningKey) -> rotation_base.RotationError:
    name = existing.certificate_id or existing.key_description
    return rotation_base.RotationError(
        f"A rotation is already in progress (pending key {name}): finish or abandon it first."
    )


def _made_by_the_same_generate(
    existing: SigningKey, *, actor: Actor, kind: str, days: int, common_name: str
) -> bool:
    user = user_of(actor)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]).rfc4514_string()
    return (
        user is not None
        and existing.created_by_id == user.pk
        and existing.created_at >= timezone.now() - SAME_GENERATE_WITHIN
        and rotation_base.key_kind(existing) == kind
        # Both ends come from one moment of generation, so the lifetime is exact.
        and existing.not_after - existing.not_before == timedelta(days=days)
        and existing.subject == subject
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
    authentication = rotation_base.locked(authentication)
    _refuse_second_pending(authentication)
    signing_key = authentication_records.add_signing_key(
        authentication, key_material, actor, state=SigningKey.State.PENDING
    )
    audit(
        action=AuditEvent.Action.KEY_ADDED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details=rotation_base.key_details(signing_key),
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
        and generation.fitting_algorithm(active.key_type, active.curve, values["jwt_algorithm"])
        != (values["jwt_algorithm"])
    ):
        # An algorithm chosen for the new kind of key would break the active one; activation sets it.
        # The stored value: a ModelForm has already changed the instance in place.
        stored = HttpAuthentication.objects.values_list("jwt_algorithm", flat=True).get(pk=authentication.pk)
        values = {**values, "jwt_algorithm": stored}
    authentication_records.authentication_update(
        authentication=authentication, actor=actor, values=values, ip_address=ip_address
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
    """Generate a key pair in nsconnect as the pending key; its Certificate ID comes later.

    The same request again moments later returns the key the first one made (see
    SAME_GENERATE_WITHIN); any other while a key is pending is refused."""
    # The lock makes a second request wait until the first one's key is committed, and see it.
    authentication = rotation_base.locked(authentication)
    existing = selectors.pending_key(authentication)
    if existing is not None:
        if _made_by_the_same_generate(existing, actor=actor, kind=kind, days=days, common_name=common_name):
            return existing
        raise _in_progress(existing)
    signing_key = key_pairs.key_pair_generate(
        actor=actor, kind=kind, days=days, common_name=common_name, ip_address=ip_address
    )
    signing_key.authentication = authentication
    signing_key.save(update_fields=["authentication"])
    audit(
        action=AuditEvent.Action.KEY_ADDED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details=rotation_base.key_details(signing_key),
    )
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
    signing_key = rotation_base.pending_key_by_id(authentication, signing_key_id, lock=True)
    active = authentication.active_key()
    if active is not None and active.certificate_id == certificate_id:
        raise rotation_base.RotationError(
            "This is the current key's Certificate ID. Upload the new certificate in NetSuite and "
            "enter the Certificate ID it shows."
        )
    if isinstance(uploaded_at, datetime) and uploaded_at > timezone.now():
        raise rotation_base.RotationError(
            "The day the certificate was uploaded to NetSuite cannot be in the future."
        )
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


@transaction.atomic
def key_abandon(
    *, authentication: HttpAuthentication, signing_key_id: int, actor: Actor, ip_address: str | None = None
) -> None:
    signing_key = rotation_base.pending_key_by_id(authentication, signing_key_id, lock=True)
    details = rotation_base.key_details(signing_key)
    signing_key.delete()
    audit(
        action=AuditEvent.Action.KEY_ABANDONED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details=details,
    )
