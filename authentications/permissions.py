"""Who may do what, checked in one place: the permissions by name, the view guard
(`require_permission`), the access helper every page about one authentication starts with
(`authentication_for`), and the plain words of the one 403 page (templates/403.html).

The roles themselves are groups made by the migration 0006_roles (see README, "Roles").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.decorators import user_passes_test
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from authentications.models import HttpAuthentication

View = TypeVar("View", bound=Callable[..., Any])

ADD = "authentications.add_httpauthentication"
CHANGE = "authentications.change_httpauthentication"
DELETE = "authentications.delete_httpauthentication"
RETRIEVE_TOKEN = "authentications.retrieve_token"  # noqa: S105  (a permission name, not a secret)
ROTATE_KEY = "authentications.rotate_key"
MANAGE_API_CLIENTS = "api.add_apiclient"

# What each permission lets a user do, and which role grants it, for the 403 page.
PLAIN_WORDS = {
    ADD: ("create HTTP authentications", "Integrators"),
    CHANGE: ("edit HTTP authentications", "Integrators"),
    DELETE: ("delete HTTP authentications", "Key administrators"),
    RETRIEVE_TOKEN: ("retrieve access tokens", "Integrators"),
    ROTATE_KEY: ("rotate signing keys", "Key administrators"),
    MANAGE_API_CLIENTS: ("manage API clients", "Key administrators"),
}


def refusal(*perms: str) -> str:
    """Why a user without `perms` is refused, in words they can act on."""
    doings = [PLAIN_WORDS.get(perm, (f"use the permission “{perm}”", ""))[0] for perm in perms]
    roles = sorted({PLAIN_WORDS[perm][1] for perm in perms if perm in PLAIN_WORDS})
    sentence = f"You may not {' or '.join(doings)}."
    if roles:
        sentence += f" Ask an administrator to add you to {' or '.join(roles)}."
    return sentence


def check_permission(user: Any, *perms: str, any_of: bool = False) -> None:
    """Refuse (403, saying what is missing) unless the user has every one of `perms`;
    with any_of=True one of them is enough."""
    allowed = any(user.has_perm(perm) for perm in perms) if any_of else user.has_perms(perms)
    if not allowed:
        missing = perms if any_of else tuple(perm for perm in perms if not user.has_perm(perm))
        raise PermissionDenied(refusal(*missing))


def require_permission(*perms: str, any_of: bool = False) -> Callable[[View], View]:
    """The view guard: check_permission before the view runs."""

    def check(user: Any) -> bool:
        check_permission(user, *perms, any_of=any_of)
        return True

    return user_passes_test(check)


def authentication_for(
    request: HttpRequest, identifier: str, *, permission: str | None
) -> HttpAuthentication:
    """The authentication a page is about, once the user may act on it: 403 without
    `permission` (checked first, so a refused user learns nothing of what exists), 404 for an
    unknown identifier. `permission` is always said, None for a page every user may read, so a
    page that changes something cannot forget it.

    Every signed-in user may read authentications; `permission` says who may change them. The
    token's value stays in the database: pages show when it expires, never what it is.
    """
    if permission is not None:
        check_permission(request.user, permission)
    return get_object_or_404(HttpAuthentication.objects.for_pages(), identifier=identifier)
