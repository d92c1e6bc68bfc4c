"""Writes of the token API: issuing and revoking API clients (audited), and counting their use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from api import apikeys
from api.models import ApiClient, ApiUsage
from authentications.models import AuditEvent, HttpAuthentication
from authentications.services.audit_trail import Actor, audit, user_of


@dataclass(frozen=True)
class IssuedClient:
    """A new client and its API key, which exists only here: it is shown once and never stored."""

    client: ApiClient
    key: str = field(repr=False)


def _client_details(client: ApiClient) -> dict[str, object]:
    return {
        "api_client": client.name,
        "key_prefix": client.key_prefix,
        "authentications": sorted(client.authentications.values_list("identifier", flat=True)),
    }


@transaction.atomic
@sensitive_variables()
def api_client_create(
    *,
    actor: Actor,
    name: str,
    authentications: Iterable[HttpAuthentication],
    ip_address: str | None = None,
) -> IssuedClient:
    key = apikeys.new_key()
    client = ApiClient(
        name=name,
        key_prefix=apikeys.key_prefix(key),
        key_hash=apikeys.key_hash(key),
        created_by=user_of(actor),
    )
    client.full_clean()
    client.save()
    client.authentications.set(authentications)
    audit(
        action=AuditEvent.Action.API_CLIENT_CREATE,
        authentication=None,
        actor=actor,
        ip_address=ip_address,
        details=_client_details(client),
    )
    return IssuedClient(client=client, key=key)


@transaction.atomic
def api_client_revoke(*, client: ApiClient, actor: Actor, ip_address: str | None = None) -> bool:
    """Revoke the client's key for good. False if it was already revoked (nothing is audited twice)."""
    now = timezone.now()
    # Conditional, so two people pressing Revoke together leave one audit event.
    if not ApiClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(revoked_at=now):
        return False
    client.revoked_at = now
    audit(
        action=AuditEvent.Action.API_CLIENT_REVOKE,
        authentication=None,
        actor=actor,
        ip_address=ip_address,
        details=_client_details(client),
    )
    return True


def api_usage_record(
    *, client: ApiClient, authentication: HttpAuthentication, now: datetime | None = None
) -> None:
    """Count one request of the client for the authentication's token."""
    now = now or timezone.now()
    usage = ApiUsage.objects.filter(client=client, authentication=authentication)
    if usage.update(count=F("count") + 1, last_used_at=now):
        return
    try:
        with transaction.atomic():
            ApiUsage.objects.create(client=client, authentication=authentication, count=1, last_used_at=now)
    except IntegrityError:
        # Another process made the row between our update and our insert.
        usage.update(count=F("count") + 1, last_used_at=now)
