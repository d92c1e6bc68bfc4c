"""The rotation wizard's "Upload to NetSuite" and "Revoke old certificate in NetSuite": when
they may be used, what they change, and their audit events. The HTTP is in
netsuite/certificate_endpoint.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from authentications.models import AuditEvent, HttpAuthentication, SigningKey

# CertificateEndpointError and REST_WEB_SERVICES are also this module's: pages and tags reach
# them here, never in netsuite/.
from authentications.netsuite.certificate_endpoint import (
    REST_WEB_SERVICES,
    CertificateAnswer,
    CertificateEndpointError,
    add_certificate,
    revoke_certificate,
)
from authentications.netsuite.http_exchange import TokenRequestError
from authentications.services import pending_keys, rotation_base, token_single_flight
from authentications.services.audit_trail import Actor, audit


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
    if signing_key.revoked_at is not None:
        return f"This key's certificate was already revoked in NetSuite on {signing_key.revoked_at:%Y-%m-%d}."
    return ""


def netsuite_certificate_upload(
    *,
    authentication: HttpAuthentication,
    signing_key: SigningKey,
    actor: Actor,
    ip_address: str | None = None,
) -> UploadResult:
    """Upload the pending key's certificate with a token from the active key.

    NetSuite's two years count from now, unless an upload day is already known. A
    Certificate ID read from the answer is written on the pending key (audited like one
    entered by hand), which the wizard then verifies.
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
    # A 2xx page that is not JSON may be a maintenance page: no upload day from it.
    accepted = answer.ok and answer.payload is not None
    with transaction.atomic():
        upload_recorded = accepted and pending_keys.key_record_upload(
            signing_key=signing_key, uploaded_at=timezone.now()
        )
        stored = bool(answer.certificate_id) and _store_certificate_id(
            authentication, signing_key, answer.certificate_id, actor, ip_address
        )
        details |= _answer_details(answer) | {
            "certificate_id": answer.certificate_id,
            "certificate_id_key": answer.certificate_id_key,
            "certificate_id_stored": stored,
            "upload_day_recorded": upload_recorded,
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
    """Revoke a retired key's certificate in NetSuite; rolling back to that key is then impossible.

    When NetSuite says it did, the revocation is recorded on the key, so rollback is no longer offered.
    """
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
    with transaction.atomic():
        if answer.ok:
            # Whatever state the key is in now (a rollback may have raced the request): NetSuite
            # refuses it from here on. The first revocation's time stays.
            details["revoked_recorded"] = bool(
                SigningKey.objects.filter(pk=signing_key.pk, revoked_at__isnull=True).update(
                    revoked_at=timezone.now()
                )
            )
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
        token = token_single_flight.token_get(
            authentication=authentication, actor=actor, min_seconds_left=120, ip_address=ip_address
        )
    except TokenRequestError as error:
        raise CertificateEndpointError(
            "token", f"No token could be had with the active key, so NetSuite was not asked. {error.message}"
        ) from None
    return token.value


def _store_certificate_id(
    authentication: HttpAuthentication,
    signing_key: SigningKey,
    certificate_id: str,
    actor: Actor,
    ip_address: str | None,
) -> bool:
    # The wizard's own step: the key is locked and re-read there (it may have been abandoned or
    # activated meanwhile), a new ID needs a new verify, and the change is audited.
    try:
        stored = pending_keys.key_set_certificate_id(
            authentication=authentication,
            signing_key_id=signing_key.pk,
            certificate_id=certificate_id,
            actor=actor,
            ip_address=ip_address,
        )
    except rotation_base.RotationError:
        return False
    signing_key.certificate_id, signing_key.verified_at = stored.certificate_id, stored.verified_at
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
