"""The NetSuite certificate endpoint buttons in the rotation wizard, shown only when usable."""

from __future__ import annotations

from typing import Any

from django import template

from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.netsuite.certificate_endpoint import REST_WEB_SERVICES
from authentications.services import netsuite_certificates

register = template.Library()


@register.inclusion_tag("authentications/includes/netsuite_upload_button.html")
def netsuite_upload_button(
    authentication: HttpAuthentication, pending_key: SigningKey | None
) -> dict[str, Any]:
    return {
        "authentication": authentication,
        "pending_key": pending_key,
        "usable": not netsuite_certificates.upload_problem(authentication, pending_key),
        # Someone with the scope may just not have entered the IDs yet: say where they go.
        "needs_ids": REST_WEB_SERVICES in authentication.scope_list
        and not (authentication.netsuite_role_id and authentication.netsuite_entity_id),
    }


@register.inclusion_tag("authentications/includes/netsuite_revoke_button.html")
def netsuite_revoke_button(
    authentication: HttpAuthentication, retired_key: SigningKey | None
) -> dict[str, Any]:
    usable = not netsuite_certificates.revoke_problem(authentication, retired_key)
    revoked = None
    if usable and retired_key is not None:
        revoked = (
            AuditEvent.objects.filter(
                authentication=authentication,
                action=AuditEvent.Action.NETSUITE_CERTIFICATE_REVOKED,
                details__certificate_id=retired_key.certificate_id,
                details__ok=True,
            )
            .order_by("-created_at")
            .first()
        )
    return {
        "authentication": authentication,
        "retired_key": retired_key,
        "usable": usable,
        "revoked": revoked,
    }
