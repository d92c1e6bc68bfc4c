"""Creating, editing and deleting HTTP authentications, each with its audit event, and
storing a signing key on one (add_signing_key): its first key here, a rotation's pending key
for pending_keys. A new key for an existing authentication is a rotation, never an edit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from authentications.keys.certificates import CertificateFacts
from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from authentications.services import audit_trail, credential_changes
from authentications.services.form_drafts import ProvenToken

AUTHENTICATION_FIELDS = (
    "name",
    "settings_type",
    "provider",
    "jwt_algorithm",
    "consumer_key",
    "scopes",
    "account_id",
    "token_url",
    "enabled",
    "alert_recipients",
    "netsuite_role_id",
    "netsuite_entity_id",
)


@dataclass(frozen=True)
class KeyMaterial:
    """A checked private key (PKCS#8 PEM), its certificate and the Certificate ID NetSuite gave it."""

    certificate_id: str
    certificate: CertificateFacts
    private_key_pem: str = field(default="", repr=False)
    # A key pair generated in nsconnect: its stored row is attached instead of a new one made.
    signing_key_id: int | None = None
    # When the certificate was uploaded to NetSuite; None when unknown (counted from notBefore).
    uploaded_at: datetime | None = None


@sensitive_variables()
def add_signing_key(
    authentication: HttpAuthentication,
    material: KeyMaterial,
    actor: audit_trail.Actor,
    state: str = SigningKey.State.ACTIVE,
) -> SigningKey:
    """Store a checked key on an authentication, or attach the generated key pair it names.

    The caller holds the transaction and writes the audit event: authentication_create for the
    first key, pending_keys for a rotation's new key (state=PENDING, activated only after it
    was verified)."""
    if material.signing_key_id is not None:
        return _attach_generated_key(authentication, material, material.signing_key_id, state)
    now = timezone.now()
    active = state == SigningKey.State.ACTIVE
    facts = material.certificate
    signing_key = SigningKey.for_certificate(
        facts,
        added_at=now,
        uploaded_at=material.uploaded_at,
        authentication=authentication,
        certificate_id=material.certificate_id,
        private_key=material.private_key_pem,
        state=state,
        created_by=audit_trail.user_of(actor),
        activated_at=now if active else None,
        activated_by=audit_trail.user_of(actor) if active else None,
    )
    signing_key.full_clean(exclude=["authentication"])
    signing_key.save()
    return signing_key


def _attach_generated_key(
    authentication: HttpAuthentication, material: KeyMaterial, signing_key_id: int, state: str
) -> SigningKey:
    # Locked and re-checked here: two forms may have offered the same key pair at once.
    signing_key = (
        SigningKey.objects.select_for_update()
        .filter(
            pk=signing_key_id,
            authentication__isnull=True,
            state=SigningKey.State.PENDING,
            fingerprint_sha256=material.certificate.fingerprint_sha256,
        )
        .first()
    )
    if signing_key is None:
        raise ValidationError(
            "This generated key pair was just taken by another authentication. Generate a new one."
        )
    signing_key.authentication = authentication
    signing_key.certificate_id = material.certificate_id
    signing_key.state = state
    # Generated before it reached NetSuite: the two years count from the upload told now.
    signing_key.set_uploaded_at(material.uploaded_at)
    if state == SigningKey.State.ACTIVE:
        signing_key.activated_at = timezone.now()
    signing_key.full_clean(exclude=["authentication"])
    signing_key.save()
    return signing_key


def _key_details(signing_key: SigningKey) -> dict[str, Any]:
    return {
        "certificate_id": signing_key.certificate_id,
        "fingerprint_sha256": signing_key.fingerprint_sha256,
        "key": signing_key.key_description,
        "effective_expires_at": signing_key.effective_expires_at.isoformat(),
    }


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


# authentication_update(active_key_uploaded_at=UNCHANGED): the active key's upload day stays.
UNCHANGED = _Unchanged.UNCHANGED


# Path segments under /authentications/ that an identifier must not take.
RESERVED_IDENTIFIERS = frozenset({"new", "keys"})


def identifier_for(name: str) -> str:
    return slugify(name)[:100]


@transaction.atomic
@sensitive_variables()
def authentication_create(
    *,
    actor: audit_trail.Actor,
    values: dict[str, Any],
    key_material: KeyMaterial,
    proven_token: ProvenToken | None = None,
    ip_address: str | None = None,
) -> HttpAuthentication:
    """Save a new authentication with its first key, and the token the form's Retrieve got for
    exactly these values, if any (form_drafts): then no second token request is needed."""
    user = audit_trail.user_of(actor)
    authentication = HttpAuthentication(
        **{name: values[name] for name in AUTHENTICATION_FIELDS},
        identifier=identifier_for(values["name"]),
        owner=user,
        created_by=user,
        updated_by=user,
    )
    authentication.full_clean()
    authentication.save()
    signing_key = add_signing_key(authentication, key_material, actor)
    audit_trail.audit(
        action=AuditEvent.Action.CREATE,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details={"identifier": authentication.identifier, "signing_key": _key_details(signing_key)},
    )
    if proven_token is not None:
        _store_proven_token(authentication, signing_key, proven_token, actor, ip_address)
    return authentication


@sensitive_variables()
def _store_proven_token(
    authentication: HttpAuthentication,
    signing_key: SigningKey,
    token: ProvenToken,
    actor: audit_trail.Actor,
    ip_address: str | None,
) -> None:
    AccessToken.objects.create(
        authentication=authentication,
        value=token.value,
        token_type=token.token_type,
        obtained_at=token.obtained_at,
        expires_at=token.expires_at,
        signing_key=signing_key,
    )
    authentication.last_success_at = token.obtained_at
    authentication.save(update_fields=["last_success_at"])
    audit_trail.audit(
        action=AuditEvent.Action.TOKEN_RETRIEVED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details={
            "certificate_id": signing_key.certificate_id,
            "expires_at": token.expires_at.isoformat(),
            "retrieved_by": "Retrieve on the form, before Save",
        },
    )


def _differs(name: str, stored: Any, new: Any) -> bool:
    if name == "scopes":
        # A record saved before the form spelled scopes one way may hold them in another order.
        return set(str(stored).split(",")) != set(str(new).split(","))
    return bool(stored != new)


@transaction.atomic
@sensitive_variables()
def authentication_update(
    *,
    authentication: HttpAuthentication,
    actor: audit_trail.Actor,
    values: dict[str, Any],
    active_key_uploaded_at: datetime | None | Literal[_Unchanged.UNCHANGED] = UNCHANGED,
    ip_address: str | None = None,
) -> HttpAuthentication:
    """Save an edit. Moving where the stored key signs needs the rotate key permission
    (KeyOperationRefused otherwise, nothing saved); an edit of the credentials a token was
    issued for drops that token; active_key_uploaded_at corrects the active key's upload day
    to NetSuite (None: unknown). A new key is a rotation: pending_keys, not this."""
    # Compare with the stored row, not the caller's instance (a ModelForm edits it in place).
    authentication = HttpAuthentication.objects.select_for_update().get(pk=authentication.pk)
    changed = [
        name for name in AUTHENTICATION_FIELDS if _differs(name, getattr(authentication, name), values[name])
    ]
    key_operation = credential_changes.signing_target_changes(changed)
    if key_operation and not credential_changes.may_move_signing_target(actor):
        raise credential_changes.KeyOperationRefused(key_operation)
    for name in changed:
        setattr(authentication, name, values[name])
    authentication.updated_by = audit_trail.user_of(actor)
    # A changed record deserves a new attempt, even after NetSuite refused the old one.
    authentication.retries_stopped = False
    authentication.next_attempt_at = None
    authentication.updated_at = timezone.now()
    authentication.full_clean()
    authentication.save()
    details: dict[str, Any] = {"changed": changed}
    if credential_changes.drops_token(changed):
        # Issued for the old account, consumer key or scopes: no consumer may get it from now
        # on, and it must never be sent to a host the new URL names.
        dropped, _ = AccessToken.objects.filter(authentication=authentication).delete()
        if dropped:
            details["token_dropped"] = True
    if active_key_uploaded_at is not UNCHANGED:
        upload_day = _set_upload_day(authentication, active_key_uploaded_at)
        if upload_day:
            details["upload_day"] = upload_day
    audit_trail.audit(
        action=AuditEvent.Action.UPDATE,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details=details,
    )
    return authentication


def _set_upload_day(authentication: HttpAuthentication, uploaded_at: datetime | None) -> dict[str, Any]:
    """Correct the active key's upload day and the expiry counted from it; {} if unchanged."""
    signing_key = (
        authentication.signing_keys.select_for_update().filter(state=SigningKey.State.ACTIVE).first()
    )
    if signing_key is None or signing_key.uploaded_at == uploaded_at:
        return {}
    signing_key.set_uploaded_at(uploaded_at)
    signing_key.save(update_fields=["uploaded_at", "effective_expires_at"])
    return {
        "certificate_id": signing_key.certificate_id,
        "uploaded_at": uploaded_at.isoformat() if uploaded_at else None,
        "effective_expires_at": signing_key.effective_expires_at.isoformat(),
    }


@transaction.atomic
def authentication_delete(
    *, authentication: HttpAuthentication, actor: audit_trail.Actor, ip_address: str | None = None
) -> None:
    audit_trail.audit(
        action=AuditEvent.Action.DELETE,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details={"identifier": authentication.identifier},
    )
    authentication.delete()
