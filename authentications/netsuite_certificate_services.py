"""Services for NetSuite's certificate rotation endpoint: the "Upload to NetSuite" and
"Revoke old certificate in NetSuite" buttons of the rotation wizard, each audited.

The HTTP is in netsuite_certificates.py; this module decides when it may be used and
what it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from authentications import refresh
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.netsuite import TokenRequestError
from authentications.netsuite_certificates import (
    REST_WEB_SERVICES,
    CertificateAnswer,
    CertificateEndpointError,
    add_certificate,
    revoke_certificate,
)
from authentications.services import Actor, audit


class CertificateActionRefused(ValueError):
    """The record or key is not ready for this; nothing was sent to NetSuite."""


@dataclass(frozen=True)
class UploadResult:
    answer: CertificateAnswer
    # True when the Certificate ID read from the answer was written on the pending key.
    stored: bool


def upload_problem(authentication: HttpAuthentication, signing_key: SigningKey | None) -> str:
    """Why "Upload to NetSuite" cannot be used for this key, or "" when it can."""
    if REST_WEB_SERVICES not in authentication.scope_list:
        return "Uploading certificates to NetSuite needs the rest_webservices scope on this authentication."
    if not (authentication.netsuite_role_id and authentication.netsuite_entity_id):
        return "Enter the NetSuite role ID and entity ID of the certificate mapping on the edit form first."
    if signing_key is None or signing_key.authentication_id != authentication.pk:
        return "There is no pending key to upload."
    if signing_key.state != SigningKey.State.PENDING:
        return "Only a pending key's certificate is uploaded."
    if signing_key.verified_at is not None:
        return f"This key is verified with Certificate ID {signing_key.certificate_id}: NetSuite has it."
    return ""


def revoke_problem(authentication: HttpAuthentication, signing_key: SigningKey | None) -> str:
    """Why "Revoke old certificate in NetSuite" cannot be used for this key, or "" when it can."""
    if REST_WEB_SERVICES not in authentication.scope_list:
        return "Revoking certificates in NetSuite needs the rest_webservices scope on this authentication."
    if signing_key is None or signing_key.authentication_id != authentication.pk:
        return "There is no retired key to revoke."
    # Revoking the active key's certificate would stop every token at once.
    if signing_key.state != SigningKey.State.RETIRED:
        return "Only a retired key's certificate is revoked."
    active = authentication.active_key()
    if not signing_key.certificate_id or (active and active.certificate_id == signing_key.certificate_id):
        return "This key has no Certificate ID of its own to revoke."
    return ""


def netsuite_certificate_upload(
    *,
    authentication: HttpAuthentication,
    signing_key: SigningKey,
    actor: Actor,
    ip_address: str | None = None,
) -> UploadResult:
    """Upload the pending key's certificate with a token from the active key.

    A Certificate ID read from the answer is written on the pending key, which the
    wizard then verifies like one entered by hand.
    """
    problem = upload_problem(authentication, signing_key)
    if problem:
        raise CertificateActionRefused(problem)
    details: dict[str, Any] = {
        "signing_key": signing_key.fingerprint_sha256,
        "role_id": authentication.netsuite_role_id,
        "entity_id": authentication.netsuite_entity_id,
    }
    try:
        answer = add_certificate(
            token_url=authentication.token_url,
            access_token=_bearer_token(authentication, actor, ip_address),
            client_id=authentication.consumer_key,
            certificate_pem=signing_key.certificate_pem,
            role_id=authentication.netsuite_role_id,
            entity_id=authentication.netsuite_entity_id,
        )
    except CertificateEndpointError as error:
        audit(
            action=AuditEvent.Action.NETSUITE_CERTIFICATE_UPLOADED,
            authentication=authentication,
            actor=actor,
            ip_address=ip_address,
            details={**details, "ok": False, "error": error.message},
        )
        raise
    stored = bool(answer.certificate_id) and _store_certificate_id(signing_key, answer.certificate_id)
    details |= _answer_details(answer) | {
        "certificate_id": answer.certificate_id,
        "certificate_id_key": answer.certificate_id_key,
        "certificate_id_stored": stored,
    }
    audit(
        action=AuditEvent.Action.NETSUITE_CERTIFICATE_UPLOADED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details=details,
    )
    return UploadResult(answer=answer, stored=stored)


def netsuite_certificate_revoke(
    *,
    authentication: HttpAuthentication,
    signing_key: SigningKey,
    actor: Actor,
    ip_address: str | None = None,
) -> CertificateAnswer:
    """Revoke a retired key's certificate in NetSuite; rolling back to that key is then impossible."""
    problem = revoke_problem(authentication, signing_key)
    if problem:
        raise CertificateActionRefused(problem)
    details: dict[str, Any] = {
        "signing_key": signing_key.fingerprint_sha256,
        "certificate_id": signing_key.certificate_id,
    }
    try:
        answer = revoke_certificate(
            token_url=authentication.token_url,
            access_token=_bearer_token(authentication, actor, ip_address),
            client_id=authentication.consumer_key,
            certificate_id=signing_key.certificate_id,
        )
    except CertificateEndpointError as error:
        audit(
            action=AuditEvent.Action.NETSUITE_CERTIFICATE_REVOKED,
            authentication=authentication,
            actor=actor,
            ip_address=ip_address,
            details={**details, "ok": False, "error": error.message},
        )
        raise
    details |= _answer_details(answer)
    audit(
        action=AuditEvent.Action.NETSUITE_CERTIFICATE_REVOKED,
        authentication=authentication,
        actor=actor,
        ip_address=ip_address,
        details=details,
    )
    return answer


def _bearer_token(authentication: HttpAuthentication, actor: Actor, ip_address: str | None) -> str:
    # The current token, or a new one from the ACTIVE key; the pending key is not trusted yet.
    try:
        token = refresh.token_get(
            authentication=authentication, actor=actor, min_seconds_left=120, ip_address=ip_address
        )
    except TokenRequestError as error:
        raise CertificateEndpointError(
            "token", f"No token could be had with the active key, so NetSuite was not asked. {error.message}"
        ) from None
    return token.value


@transaction.atomic
def _store_certificate_id(signing_key: SigningKey, certificate_id: str) -> bool:
    # Locked and re-read: the key may have been abandoned or activated meanwhile.
    current = (
        SigningKey.objects.select_for_update()
        .filter(pk=signing_key.pk, state=SigningKey.State.PENDING)
        .first()
    )
    if current is None or current.certificate_id == certificate_id:
        return False
    current.certificate_id = certificate_id
    # A verify proved the old ID; the new one must be proven again before activation.
    current.verified_at = None
    current.save(update_fields=["certificate_id", "verified_at"])
    signing_key.certificate_id, signing_key.verified_at = certificate_id, None
    return True


def _answer_details(answer: CertificateAnswer) -> dict[str, Any]:
    return {
        "ok": answer.ok,
        "status": answer.status,
        "content_type": answer.content_type,
        "explanation": answer.explanation,
        # As it came (capped, token removed): the bodies are not documented.
        "answer": answer.raw,
    }
