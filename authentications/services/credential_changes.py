"""What an edit of an authentication's credentials means for its token and its stored key.

A token belongs to the consumer key, account and scopes it was issued for, so changing
any of them drops it. Changing where the stored key signs (the token URL, the account ID
that makes it, the consumer key it signs for) hands an assertion signed with that key,
and the token after it, to another place: a key operation, like changing the key itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, PermissionsMixin

from authentications.permissions import ROTATE_KEY

# Fields whose change makes the current token one for other credentials.
TOKEN_FIELDS = ("consumer_key", "scopes", "account_id", "token_url")
# Fields that say where, and for whom, the stored key signs.
SIGNING_TARGET_FIELDS = ("token_url", "account_id", "consumer_key")

_WHAT_CHANGES = {
    "token_url": "Changing the Authentication URL moves where the stored key signs",
    "account_id": "Changing the Account ID moves where the stored key signs (it makes the "
    "Authentication URL)",
    "consumer_key": "Changing the Consumer key moves which integration record the stored key signs for",
    "private_key": "Changing the key or Certificate ID replaces the stored key",
}


def drops_token(changed: Iterable[str]) -> bool:
    """Whether an edit of these fields leaves the current token one for other credentials."""
    return any(name in TOKEN_FIELDS for name in changed)


def signing_target_changes(changed: Iterable[str]) -> list[str]:
    """The changed fields that move where the stored key signs, in the order given."""
    return [name for name in changed if name in SIGNING_TARGET_FIELDS]


def signing_target(authentication: Any) -> dict[str, Any]:
    """Where, and for whom, an authentication's stored key signs now."""
    return {name: getattr(authentication, name) for name in SIGNING_TARGET_FIELDS}


def refusal_message(name: str) -> str:
    """What the field says when a user without the rotate key permission changed it."""
    return (
        f"{_WHAT_CHANGES[name]}: that is a key operation, which needs the rotate key permission "
        "(Key administrators). Keep the current value to save your other changes, or ask a key "
        "administrator to make this change."
    )


class KeyOperationRefused(Exception):
    """An edit moved where the stored key signs, by someone who may not rotate keys."""

    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        super().__init__(" ".join(refusal_message(name) for name in fields))

    def field_messages(self) -> dict[str, str]:
        return {name: refusal_message(name) for name in self.fields}


def may_move_signing_target(actor: Any) -> bool:
    """Users need the rotate key permission; the system (commands, the scheduler) may."""
    if isinstance(actor, PermissionsMixin | AnonymousUser):
        return actor.has_perm(ROTATE_KEY)
    # A user model without permissions grants none.
    return not isinstance(actor, AbstractBaseUser)
