"""Who may do what: the view guard, and the plain words a 403 page uses for a missing permission.

The roles themselves are groups made by the migration 0006_roles (see README, "Roles").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.decorators import user_passes_test
from django.core.exceptions import PermissionDenied

View = TypeVar("View", bound=Callable[..., Any])

# What each permission lets a user do, and which role grants it, for the 403 page.
PLAIN_WORDS = {
    "authentications.add_httpauthentication": ("create HTTP authentications", "Integrators"),
    "authentications.change_httpauthentication": ("edit HTTP authentications", "Integrators"),
    "authentications.delete_httpauthentication": ("delete HTTP authentications", "Key administrators"),
    "authentications.retrieve_token": ("retrieve access tokens", "Integrators"),
    "authentications.rotate_key": ("rotate signing keys", "Key administrators"),
    "api.add_apiclient": ("manage API clients", "Key administrators"),
}


def refusal(*perms: str) -> str:
    """Why a user without `perms` is refused, in words they can act on."""
    doings = [PLAIN_WORDS.get(perm, (f"use the permission “{perm}”", ""))[0] for perm in perms]
    roles = sorted({PLAIN_WORDS[perm][1] for perm in perms if perm in PLAIN_WORDS})
    sentence = f"You may not {' or '.join(doings)}."
    if roles:
        sentence += f" Ask an administrator to add you to {' or '.join(roles)}."
    return sentence


def require_permission(*perms: str, any_of: bool = False) -> Callable[[View], View]:
    """Django's permission_required(raise_exception=True), but the 403 says what is missing;
    with any_of=True one of the permissions is enough."""

    def check(user: Any) -> bool:
        allowed = any(user.has_perm(perm) for perm in perms) if any_of else user.has_perms(perms)
        if not allowed:
            missing = perms if any_of else tuple(perm for perm in perms if not user.has_perm(perm))
            raise PermissionDenied(refusal(*missing))
        return True

    return user_passes_test(check)
