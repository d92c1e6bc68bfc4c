"""The HTTP Authentication form's pages, new and edit: save (a new key on edit is a rotation),
and "Retrieve an access token key", which tries the credentials on the form and stores nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from authentications.forms.authentication import AuthenticationForm
from authentications.forms.key_pair import KeyPairForm
from authentications.models import HttpAuthentication
from authentications.permissions import (
    ADD,
    CHANGE,
    RETRIEVE_TOKEN,
    ROTATE_KEY,
    authentication_for,
    check_permission,
    require_permission,
)
from authentications.services import (
    authentication_records,
    credential_changes,
    pending_keys,
    rotation_base,
    token_attempt,
)
from authentications.web import client_ip, is_htmx

logger = logging.getLogger(__name__)

SAVE_DATABASE_BUSY = (
    "The database did not answer in time (another process may be holding it), so nothing was "
    "saved. Try again in a minute; if it persists, check the database server."
)


@dataclass
class RetrieveOutcome:
    """What pressing "Retrieve an access token key" did, for the result beside the button."""

    ok: bool
    message: str = ""
    expires_at: datetime | None = None
    # (field id, label, message): the result links each message to its field.
    field_errors: list[tuple[str, str, str]] = field(default_factory=list)


@require_http_methods(["GET", "POST"])
@require_permission(ADD)
@sensitive_post_parameters("private_key", "private_key_passphrase")
@sensitive_variables()
def authentication_create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, HttpAuthentication())


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("private_key", "private_key_passphrase")
@sensitive_variables()
def authentication_edit(request: HttpRequest, identifier: str) -> HttpResponse:
    return _form_page(request, authentication_for(request, identifier, permission=CHANGE))


def _form_page(request: HttpRequest, authentication: HttpAuthentication) -> HttpResponse:
    if request.method != "POST":
        # ?signing_key=<id>: the key pair generated on its own page, chosen already.
        initial = {"signing_key": request.GET.get("signing_key", "")}
        form = AuthenticationForm(instance=authentication, initial=initial, user=request.user)
        return _render_form(request, form, authentication)
    form = AuthenticationForm(request.POST, request.FILES, instance=authentication, user=request.user)
    if "retrieve_token" in request.POST:
        check_permission(request.user, RETRIEVE_TOKEN)
        outcome = _retrieve_with_form(form)
        if is_htmx(request):
            return render(request, "authentications/_retrieve_result.html", {"outcome": outcome})
        return _render_form(request, form, authentication, outcome=outcome)
    if not form.is_valid():
        return _render_form(request, form, authentication)
    try:
        if authentication.pk is not None and form.key_material is not None:
            return _save_with_new_key(request, form, authentication)
        authentication = _save(request, form, authentication)
    except DatabaseError:
        # Each save is one transaction, so nothing was half-written; the user keeps the form.
        logger.warning(
            "saving %s failed: database error", authentication.identifier or "a new authentication"
        )
        form.add_error(None, SAVE_DATABASE_BUSY)
        return _render_form(request, form, authentication, status=503)
    except credential_changes.KeyOperationRefused as refused:
        # The form refuses this first; the service has the last word (see credential_changes).
        for name, message in refused.field_messages().items():
            form.add_error(name if name in form.fields else None, message)
        return _render_form(request, form, authentication)
    except ValidationError as error:
        # Lost a race the form could not see (a generated key pair taken meanwhile).
        form.add_error(None, error.messages)
        return _render_form(request, form, authentication)
    for warning in form.warnings:
        messages.warning(request, warning)
    return redirect("authentications:detail", identifier=authentication.identifier)


def _save_with_new_key(
    request: HttpRequest, form: AuthenticationForm, authentication: HttpAuthentication
) -> HttpResponse:
    """A new key on the edit form is a rotation: it is stored pending and verified before use."""
    key_material = form.key_material
    assert key_material is not None  # noqa: S101  (the caller checked)
    # Not a refusal page: the rest of the edit can still be saved without the key.
    if not request.user.has_perm(ROTATE_KEY):
        form.add_error(
            "private_key",
            "Changing the key or Certificate ID is a key rotation, which needs the rotate key permission. "
            "Leave the private key blank and keep the Certificate ID to save the other changes.",
        )
        return _render_form(request, form, authentication)
    try:
        pending_keys.authentication_update_with_pending_key(
            authentication=authentication,
            actor=request.user,
            values=form.authentication_values(),
            key_material=key_material,
            ip_address=client_ip(request),
        )
    except (ValidationError, rotation_base.RotationError) as error:
        form.add_error("private_key", error.messages if isinstance(error, ValidationError) else str(error))
        return _render_form(request, form, authentication)
    for warning in form.warnings:
        messages.warning(request, warning)
    messages.success(
        request,
        f"Saved the changes to {authentication.name}. The new key is pending: verify it, then activate it. "
        "Until then tokens still come from the active key.",
    )
    return redirect("authentications:rotate", identifier=authentication.identifier)


def _save(
    request: HttpRequest, form: AuthenticationForm, authentication: HttpAuthentication
) -> HttpAuthentication:
    if authentication.pk is None:
        assert form.key_material is not None  # noqa: S101  (a valid new form always has a key)
        authentication = authentication_records.authentication_create(
            actor=request.user,
            values=form.authentication_values(),
            key_material=form.key_material,
            ip_address=client_ip(request),
        )
        # A token retrieved before Save was not kept ("saves nothing"): say when one comes.
        messages.success(
            request,
            f"Saved {authentication.name}. The worker retrieves its first token within a minute, "
            "or press Retrieve an access token key now.",
        )
        return authentication
    authentication = authentication_records.authentication_update(
        authentication=authentication,
        actor=request.user,
        values=form.authentication_values(),
        active_key_uploaded_at=form.active_key_uploaded_at,
        ip_address=client_ip(request),
    )
    messages.success(request, f"Saved the changes to {authentication.name}.")
    return authentication


def _render_form(
    request: HttpRequest,
    form: AuthenticationForm,
    authentication: HttpAuthentication,
    outcome: RetrieveOutcome | None = None,
    status: int | None = None,
) -> HttpResponse:
    # A re-rendered form never carries the private key back to the browser.
    key_was_posted = form.is_bound and bool(
        form.data.get("private_key", "").strip() or form.files.get("private_key_file")
    )
    return render(
        request,
        "authentications/form.html",
        {
            "form": form,
            "authentication": authentication,
            "is_new": authentication.pk is None,
            "outcome": outcome,
            "paste_key_again": key_was_posted and form.generated_key is None,
            # The "Generate a new key pair" panel, or the generated key pair chosen.
            "generated_key": form.generated_key,
            "key_pair_form": KeyPairForm(),
        },
        status=status or (422 if form.is_bound and form.errors else 200),
    )


def _retrieve_with_form(form: AuthenticationForm) -> RetrieveOutcome:
    if not form.is_valid():
        errors = [
            (
                form[name].id_for_label if name in form.fields else "authentication-form",
                str(form.fields[name].label) if name in form.fields else "Form",
                str(message),
            )
            for name, messages_ in form.errors.items()
            for message in messages_
        ]
        return RetrieveOutcome(ok=False, message="Fix these fields first:", field_errors=errors)
    try:
        response = token_attempt.token_probe(credentials=form.credentials())
    except Exception as error:
        # Whatever went wrong (NetSuite, a stored key that no longer decrypts) is shown, never a 500.
        failure = token_attempt.failure_for(error, what="while trying the credentials on the form")
        return RetrieveOutcome(ok=False, message=failure.message)
    return RetrieveOutcome(ok=True, expires_at=response.expires_at(timezone.now()))
