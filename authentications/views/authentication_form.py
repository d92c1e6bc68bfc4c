"""The HTTP Authentication form's pages, new and edit: save (a new key on edit is a rotation),
and "Retrieve an access token key", which tries the credentials on the form. Between posts the
form's draft (form_drafts) keeps the pasted key and what Retrieve proved: Save of a new
authentication stores the token proven for exactly its values, and asks before saving values
NetSuite refused."""

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
    form_drafts,
    pending_keys,
    rotation_base,
    rotation_progress,
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
    draft = form_drafts.FormDraft(request.session, request.POST.get("draft", ""))
    if request.method != "POST":
        # ?signing_key=<id>: the key pair generated on its own page, chosen already.
        initial = {"signing_key": request.GET.get("signing_key", "")}
        form = AuthenticationForm(instance=authentication, initial=initial, user=request.user)
        return _render_form(request, form, authentication, draft)
    if "retrieve_token" in request.POST:
        # Before the form is read: reading it loads the key (costly for RSA) and keeps it.
        check_permission(request.user, RETRIEVE_TOKEN)
    if "forget_key" in request.POST:
        # "Use a different key": the kept key goes; the form comes back without it, to paste one.
        draft.forget_key()
    form = AuthenticationForm(
        request.POST, request.FILES, instance=authentication, user=request.user, kept_key=draft.kept_key()
    )
    valid = form.is_valid()
    _keep_pasted_key(form, draft)
    if "forget_key" in request.POST:
        return _render_form(request, form, authentication, draft, focus="private_key", status=200)
    if "retrieve_token" in request.POST:
        return _retrieve_page(request, form, authentication, draft)
    if not valid:
        return _render_form(request, form, authentication, draft, summary=True)
    refusal = draft.refusal(form.credentials())
    if refusal and "save_anyway" not in request.POST:
        return _render_form(request, form, authentication, draft, refusal=refusal, status=200)
    try:
        if authentication.pk is not None and form.key_material is not None:
            return _save_with_new_key(request, form, authentication, draft)
        authentication = _save(request, form, authentication, draft)
    except DatabaseError:
        # Each save is one transaction, so nothing was half-written; the user keeps the form.
        logger.warning(
            "saving %s failed: database error", authentication.identifier or "a new authentication"
        )
        form.add_error(None, SAVE_DATABASE_BUSY)
        return _render_form(request, form, authentication, draft, summary=True, status=503)
    except credential_changes.KeyOperationRefused as refused:
        # The form refuses this first; the service has the last word (see credential_changes).
        for name, message in refused.field_messages().items():
            form.add_error(name if name in form.fields else None, message)
        return _render_form(request, form, authentication, draft, summary=True)
    except ValidationError as error:
        # Lost a race the form could not see (a generated key pair taken meanwhile).
        form.add_error(None, error.messages)
        return _render_form(request, form, authentication, draft, summary=True)
    draft.discard()
    for warning in form.warnings:
        messages.warning(request, warning)
    return redirect("authentications:detail", identifier=authentication.identifier)


def _retrieve_page(
    request: HttpRequest,
    form: AuthenticationForm,
    authentication: HttpAuthentication,
    draft: form_drafts.FormDraft,
) -> HttpResponse:
    """Retrieve's answer: beside the button (htmx), or the form page with it."""
    outcome = _retrieve_with_form(form, draft)
    if is_htmx(request) and not outcome.field_errors and "whole_form" not in request.POST:
        return render(request, "authentications/_retrieve_result.html", {"outcome": outcome})
    response = _render_form(request, form, authentication, draft, outcome=outcome)
    if is_htmx(request):
        # Fields to fix are marked where they are, and notices of an earlier post (now stale)
        # go: htmx swaps the whole form, answered with 200 as it swaps no error responses.
        response.status_code = 200
        response["HX-Retarget"] = "#authentication-form"
        response["HX-Reswap"] = "outerHTML"
        response["HX-Reselect"] = "#authentication-form"
    return response


@sensitive_variables()
def _keep_pasted_key(form: AuthenticationForm, draft: form_drafts.FormDraft) -> None:
    """Hold a key pasted now for the form's next post; a key pasted now that failed replaces
    the kept one too (it is the key the person meant), so nothing stale is used."""
    if form.pasted_private_key is not None:
        form.kept_key = draft.keep_key(form.pasted_private_key)
    elif form.key_was_posted() and form.generated_key is None:
        draft.forget_key()
        form.kept_key = None


def _save_with_new_key(
    request: HttpRequest,
    form: AuthenticationForm,
    authentication: HttpAuthentication,
    draft: form_drafts.FormDraft,
) -> HttpResponse:
    """A new key on the edit form is a rotation: it is stored pending and verified before use."""
    key_material = form.key_material
    assert key_material is not None  # noqa: S101  (the caller checked)
    # Not a refusal page: the rest of the edit can still be saved without the key.
    if not request.user.has_perm(ROTATE_KEY):
        # Not kept either: a blank private key must mean "keep the current key" again.
        draft.forget_key()
        form.kept_key = None
        form.add_error(
            "private_key",
            "Changing the key or Certificate ID is a key rotation, which needs the rotate key permission. "
            "Leave the private key blank and keep the Certificate ID to save the other changes.",
        )
        return _render_form(request, form, authentication, draft, summary=True)
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
        return _render_form(request, form, authentication, draft, summary=True)
    draft.discard()
    for warning in form.warnings:
        messages.warning(request, warning)
    messages.success(
        request,
        f"Saved the changes to {authentication.name}. The new key is pending: verify it, then activate it. "
        "Until then tokens still come from the active key.",
    )
    return redirect("authentications:rotate", identifier=authentication.identifier)


@sensitive_variables()
def _save(
    request: HttpRequest,
    form: AuthenticationForm,
    authentication: HttpAuthentication,
    draft: form_drafts.FormDraft,
) -> HttpAuthentication:
    if authentication.pk is None:
        assert form.key_material is not None  # noqa: S101  (a valid new form always has a key)
        # The token the form's Retrieve got for exactly these values is kept: no second request.
        proven_token = draft.proven_token(form.credentials())
        authentication = authentication_records.authentication_create(
            actor=request.user,
            values=form.authentication_values(),
            key_material=form.key_material,
            proven_token=proven_token,
            ip_address=client_ip(request),
        )
        saved = f"Saved {authentication.name}"
        if proven_token is None:
            saved += (
                ". The worker retrieves its first token within a minute, or press Retrieve an access "
                "token key now."
            )
        else:
            valid_until = timezone.localtime(proven_token.expires_at)
            saved += (
                f" with the access token retrieved on the form, valid until {valid_until:%Y-%m-%d %H:%M %Z}."
            )
        messages.success(request, saved)
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
    draft: form_drafts.FormDraft,
    outcome: RetrieveOutcome | None = None,
    status: int | None = None,
    *,
    summary: bool = False,
    refusal: str = "",
    focus: str = "",
) -> HttpResponse:
    """The form page. summary: a failed Save, whose problems are listed on top (and focused);
    refusal: NetSuite's answer to these values, asking before they are saved; focus: the field
    to start in."""
    problems = form.problems() if summary and form.errors else []
    if focus:
        form.fields[focus].widget.attrs["autofocus"] = True
    return render(
        request,
        "authentications/form.html",
        {
            "form": form,
            "authentication": authentication,
            "is_new": authentication.pk is None,
            "draft_id": draft.id,
            "outcome": outcome,
            "problems": problems,
            "refusal": refusal,
            "kept_key": form.kept_key,
            # A re-rendered form never carries the private key back to the browser; a key that
            # could not be kept (it did not open) must be pasted again.
            "paste_key_again": form.key_was_posted() and form.kept_key is None and form.generated_key is None,
            # The "Generate a new key pair" panel, or the generated key pair chosen.
            "generated_key": form.generated_key,
            "key_pair_form": _key_pair_form(authentication),
        },
        status=status or (422 if form.is_bound and form.errors else 200),
    )


def _key_pair_form(authentication: HttpAuthentication) -> KeyPairForm:
    """The Generate panel; on edit a generated key is a rotation, so it starts on the kind of
    the key it replaces, as the rotation wizard does."""
    if authentication.pk is None:
        return KeyPairForm()
    return KeyPairForm(initial={"kind": rotation_progress.new_key_kind(authentication)})


@sensitive_variables()
def _retrieve_with_form(form: AuthenticationForm, draft: form_drafts.FormDraft) -> RetrieveOutcome:
    """Try the values on the form; the draft remembers the outcome for Save."""
    if not form.is_valid():
        return RetrieveOutcome(ok=False, message="Fix these fields first:", field_errors=form.problems())
    credentials = form.credentials()
    now = timezone.now()
    try:
        response = token_attempt.token_probe(credentials=credentials)
    except Exception as error:
        # Whatever went wrong (NetSuite, a stored key that no longer decrypts) is shown, never a 500.
        failure = token_attempt.failure_for(error, what="while trying the credentials on the form")
        draft.record_failure(credentials, failure)
        return RetrieveOutcome(ok=False, message=failure.message)
    draft.record_token(credentials, response, now)
    return RetrieveOutcome(ok=True, expires_at=response.expires_at(now))
