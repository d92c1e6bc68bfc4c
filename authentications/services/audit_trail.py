"""Who acts (a user, or a name for the system) and the audit event every write records."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from authentications.models import AuditEvent, HttpAuthentication
from authentications.statements import insert_row

# Who acts: a signed-in user, or a name for the system ("command line", "scheduler").
Actor = AbstractBaseUser | AnonymousUser | str | None


def user_of(actor: Actor) -> Any:
    """The user behind an actor, for created_by and the like; None for the system."""
    return actor if isinstance(actor, AbstractBaseUser) and actor.pk else None


def _actor_label(actor: Actor) -> str:
    if isinstance(actor, AbstractBaseUser):
        return actor.get_username()
    if isinstance(actor, AnonymousUser):
        return "anonymous"
    return actor or "system"


def audit(
    *,
    action: str,
    authentication: HttpAuthentication | None,
    actor: Actor = None,
    ip_address: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor=user_of(actor),
        actor_label=_actor_label(actor),
        action=action,
        authentication=authentication,
        authentication_name=authentication.name if authentication else "",
        ip_address=ip_address,
        details=details or {},
    )
    insert_row(event)  # as objects.create() would, in a statement written once
    return event
