"""Key pairs generated in nsconnect: making one, naming its certificate file, and the daily
deletion of those that no authentication took."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from authentications.keys import certificates, generation, loaded_keys, private_keys
from authentications.models import AuditEvent, SigningKey
from authentications.services.audit_trail import Actor, audit, user_of


@sensitive_variables()
def key_pair_generate(
    *, actor: Actor, kind: str, days: int, common_name: str, ip_address: str | None = None
) -> SigningKey:
    """Make a key pair and keep it as a pending key of nobody until an authentication takes it."""
    private_key, certificate = generation.generate_key_pair(kind=kind, days=days, common_name=common_name)
    facts = certificates.certificate_facts(certificate, private_key)
    signing_key = SigningKey.for_certificate(
        facts,
        added_at=timezone.now(),
        # Not in NetSuite yet: the day it is uploaded is asked when the key is attached.
        uploaded_at=None,
        authentication=None,
        certificate_id="",
        private_key=private_keys.serialize_private_key(private_key),
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
            "key": generation.KEY_KINDS[kind],
            "fingerprint_sha256": signing_key.fingerprint_sha256,
            "not_after": signing_key.not_after.isoformat(),
        },
    )
    return signing_key


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
        loaded_keys.forget_loaded_key((signing_key.pk, signing_key.fingerprint_sha256))
        deleted.append(signing_key.pk)
    return deleted
