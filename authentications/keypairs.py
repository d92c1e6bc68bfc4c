"""Key pairs generated in nsconnect: the form that asks for one, the service that makes it,
who may see or use it before an authentication does, and the daily deletion of those that
no authentication took.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from django import forms
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from authentications import keygen, keys
from authentications.models import AuditEvent, SigningKey
from authentications.services import Actor, audit, user_of


class KeyPairForm(forms.Form):
    """Key type, validity and common name of a key pair to generate."""

    kind = forms.ChoiceField(
        label="Key type",
        choices=list(keygen.KEY_KINDS.items()),
        initial=keygen.DEFAULT_KIND,
        error_messages={"invalid_choice": "Choose RSA 3072, RSA 4096, EC P-256, EC P-384 or EC P-521."},
        help_text="EC P-256 is small and fast; all five are accepted by NetSuite.",
    )
    days = forms.IntegerField(
        label="Validity in days",
        initial=keygen.MAX_DAYS,
        min_value=keygen.MIN_DAYS,
        max_value=keygen.MAX_DAYS,
        error_messages={
            "min_value": f"A certificate is valid for at least {keygen.MIN_DAYS} day.",
            "max_value": f"NetSuite accepts at most {keygen.MAX_DAYS} days (two years).",
            "invalid": f"Enter a whole number of days, {keygen.MIN_DAYS} to {keygen.MAX_DAYS}.",
        },
        help_text=f"{keygen.MIN_DAYS} to {keygen.MAX_DAYS} days (NetSuite's maximum is two years).",
    )
    common_name = forms.CharField(
        label="Common name",
        required=False,
        max_length=keygen.MAX_COMMON_NAME,
        help_text="Written into the certificate, so you recognise it in NetSuite. Left empty: the "
        "authentication's name, or nsconnect.",
    )

    def __init__(self, *args: Any, fallback_name: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Left empty, the certificate is named after the authentication being filled in.
        self.fallback_name = fallback_name.strip()[: keygen.MAX_COMMON_NAME]

    def clean_common_name(self) -> str:
        name: str = self.cleaned_data["common_name"].strip()
        return name or self.fallback_name or keygen.DEFAULT_COMMON_NAME


@sensitive_variables()
def key_pair_generate(
    *, actor: Actor, kind: str, days: int, common_name: str, ip_address: str | None = None
) -> SigningKey:
    """Make a key pair and keep it as a pending key of nobody until an authentication takes it."""
    private_key, certificate = keygen.generate_key_pair(kind=kind, days=days, common_name=common_name)
    facts = keys.certificate_facts(certificate, private_key)
    signing_key = SigningKey.for_certificate(
        facts,
        added_at=timezone.now(),
        # Not in NetSuite yet: the day it is uploaded is asked when the key is attached.
        uploaded_at=None,
        authentication=None,
        certificate_id="",
        private_key=keys.serialize_private_key(private_key),
        state=SigningKey.State.PENDING,
        created_by=user_of(actor),
    )
    signing_key.full_clean()
    signing_key.save()
    audit(
        action=AuditEvent.Action.KEY_GENERATED,
        authentication=None,
        actor=actor,
        ip_address=ip_address,
        details={
            "signing_key_id": signing_key.pk,
            "key": keygen.KEY_KINDS[kind],
            "fingerprint_sha256": signing_key.fingerprint_sha256,
            "not_after": signing_key.not_after.isoformat(),
        },
    )
    return signing_key


def signing_keys_visible_to(user: Any) -> QuerySet[SigningKey]:
    """Keys of authentications (every signed-in user reads those), and unattached keys of their maker;
    staff and key administrators see them all."""
    signing_keys = SigningKey.objects.select_related("authentication")
    if user.is_staff or user.has_perm("authentications.rotate_key"):
        return signing_keys
    return signing_keys.filter(Q(authentication__isnull=False) | Q(created_by=user))


def generated_key_for_form(user: Any, raw_id: object) -> tuple[SigningKey | None, str]:
    """The generated key an authentication form may take, or why it may not (message for the user)."""
    not_found = "This generated key pair was not found. Generate a new one."
    try:
        pk = int(str(raw_id))
    except ValueError:
        return None, not_found
    signing_key = (
        signing_keys_visible_to(user).filter(pk=pk).first()
        if user is not None and user.is_authenticated
        else None
    )
    if signing_key is None:
        return None, not_found
    if signing_key.authentication is not None:
        return None, (
            f"This key pair is already used by {signing_key.authentication.name}. Generate a new "
            "one: each authentication gets its own key pair."
        )
    if signing_key.state != SigningKey.State.PENDING:
        return None, not_found
    return signing_key, ""


def certificate_file_stem(signing_key: SigningKey) -> str:
    """The certificate's file name without extension: the authentication's identifier, or its CN."""
    if signing_key.authentication is not None:
        return signing_key.authentication.identifier
    certificate = x509.load_pem_x509_certificate(signing_key.certificate_pem.encode())
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    return slugify(common_name) or "certificate"


def unused_key_pair_age() -> timedelta:
    # Read when used, so override_settings works.
    return timedelta(days=settings.NSCONNECT_UNUSED_KEY_PAIR_DAYS)


def key_pairs_delete_unused(*, actor: Actor = "scheduler", now: datetime | None = None) -> list[int]:
    """Delete the key pairs generated longer than NSCONNECT_UNUSED_KEY_PAIR_DAYS ago that no
    authentication took: nobody uses their private keys, so nsconnect keeps none.

    Safe to run twice and in parallel, and alongside a form taking a key pair: each pair is
    deleted by a conditional delete that re-checks it is still unattached and pending.
    Returns the ids of the key pairs deleted by this run.
    """
    now = now or timezone.now()
    conditions = {
        "authentication__isnull": True,
        "state": SigningKey.State.PENDING,
        "created_at__lte": now - unused_key_pair_age(),
    }
    deleted = []
    for signing_key in (
        SigningKey.objects.filter(**conditions).select_related("created_by").defer("private_key")
    ):
        with transaction.atomic():
            _, by_model = SigningKey.objects.filter(pk=signing_key.pk, **conditions).delete()
            if not by_model.get(SigningKey._meta.label):
                continue  # taken by an authentication, or deleted by another run, meanwhile
            audit(
                action=AuditEvent.Action.KEY_PAIR_DELETED,
                authentication=None,
                actor=actor,
                details={
                    "signing_key_id": signing_key.pk,
                    "fingerprint_sha256": signing_key.fingerprint_sha256,
                    "key": signing_key.key_description,
                    "created_at": signing_key.created_at.isoformat(),
                    "created_by": signing_key.created_by.get_username() if signing_key.created_by else None,
                },
            )
        # Loaded only if a form retrieved a token with it; this process's copy goes too.
        keys.forget_loaded_key((signing_key.pk, signing_key.fingerprint_sha256))
        deleted.append(signing_key.pk)
    return deleted
