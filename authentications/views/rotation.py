"""The rotation wizard's pages: new key, Certificate ID, verify, activate, abandon, roll back.

Each action is a POST that calls one service (pending_keys, rotation, retired_keys) and
returns to the wizard, which shows the step the rotation is at (rotation_progress), so a
rotation left half way resumes there, and one activated says it is complete while its previous
key is kept for rollback. Activate, abandon and roll back first ask: a GET of their URL, or a POST
without `confirmed`, shows what will happen and what cannot be undone, and changes nothing.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from authentications import selectors
from authentications.forms import upload_day
from authentications.forms.certificate_id import CertificateIdForm
from authentications.forms.key_pair import KeyPairForm
from authentications.models import HttpAuthentication, SigningKey
from authentications.permissions import ROTATE_KEY, authentication_for
from authentications.services import (
    netsuite_certificates,
    pending_keys,
    retired_keys,
    rotation,
    rotation_base,
    rotation_progress,
)
from authentications.web import client_ip, confirmed, named_signing_key_id


def _initial_upload_day(pending: SigningKey | None) -> date | None:
    # A key generated here has no Certificate ID until its certificate is uploaded to NetSuite,
    # which happens as the administrator fills in this step: today, unless they say otherwise.
    known = upload_day.upload_day_of(pending)
    if known is None and pending is not None and not pending.certificate_id:
        return upload_day.today()
    return known


def _back(authentication: HttpAuthentication) -> HttpResponse:
    return redirect("authentications:rotate", identifier=authentication.identifier)


def _page(
    request: HttpRequest,
    authentication: HttpAuthentication,
    *,
    key_pair_form: KeyPairForm | None = None,
    certificate_id_form: CertificateIdForm | None = None,
    status: int = 200,
) -> HttpResponse:
    progress = rotation_progress.rotation_progress(authentication)
    pending = progress.pending_key
    initial = {
        "certificate_id": pending.certificate_id if pending else "",
        "uploaded_on": _initial_upload_day(pending),
    }
    previous = selectors.previous_key(authentication)
    rollback_key = selectors.rollback_candidate(authentication)
    new_key = {"common_name": authentication.name, "kind": rotation_progress.new_key_kind(authentication)}
    return render(
        request,
        "authentications/rotate.html",
        {
            "authentication": authentication,
            "active_key": authentication.active_key(),
            "pending_key": pending,
            "step": progress.step,
            "steps": progress.steps,
            "completed": progress.completed,
            "key_pair_form": key_pair_form or KeyPairForm(initial=new_key),
            "certificate_id_form": certificate_id_form or CertificateIdForm(initial=initial, pending=pending),
            "rollback_key": rollback_key,
            "revoke_offered": rollback_key is not None
            and not netsuite_certificates.revoke_problem(authentication, rollback_key),
            # Said on the page, so nobody wonders where the rollback went.
            "revoked_key": previous if previous is not None and previous.revoked_at else None,
            "retention_days": selectors.retention().days,
        },
        status=status,
    )


@require_GET
def rotate(request: HttpRequest, identifier: str) -> HttpResponse:
    return _page(request, authentication_for(request, identifier, permission=ROTATE_KEY))


@require_POST
@sensitive_variables()
def rotate_generate(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = authentication_for(request, identifier, permission=ROTATE_KEY)
    form = KeyPairForm(request.POST, fallback_name=authentication.name)
    if not form.is_valid():
        return _page(request, authentication, key_pair_form=form, status=422)
    try:
        pending_keys.key_generate_pending(
            authentication=authentication,
            actor=request.user,
            kind=form.cleaned_data["kind"],
            days=form.cleaned_data["days"],
            common_name=form.cleaned_data["common_name"],
            ip_address=client_ip(request),
        )
    except rotation_base.RotationError as error:
        messages.error(request, str(error))
    return _back(authentication)


@require_POST
def rotate_certificate_id(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = authentication_for(request, identifier, permission=ROTATE_KEY)
    signing_key_id = named_signing_key_id(request)
    pending = authentication.signing_keys.filter(pk=signing_key_id, state=SigningKey.State.PENDING).first()
    form = CertificateIdForm(request.POST, pending=pending)
    if not form.is_valid():
        return _page(request, authentication, certificate_id_form=form, status=422)
    try:
        pending_keys.key_set_certificate_id(
            authentication=authentication,
            signing_key_id=signing_key_id,
            certificate_id=form.cleaned_data["certificate_id"],
            actor=request.user,
            ip_address=client_ip(request),
            # Without the date field (an older page), the service's own rule applies.
            uploaded_at=form.uploaded_at() if "uploaded_on" in request.POST else pending_keys.KEEP,
        )
    except rotation_base.RotationError as error:
        form.add_error("certificate_id", str(error))
        return _page(request, authentication, certificate_id_form=form, status=422)
    return _back(authentication)


@require_POST
@sensitive_variables()
def rotate_verify(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = authentication_for(request, identifier, permission=ROTATE_KEY)
    try:
        signing_key = rotation.key_verify(
            authentication=authentication,
            signing_key_id=named_signing_key_id(request),
            actor=request.user,
            ip_address=client_ip(request),
        )
    except rotation_base.RotationError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"NetSuite gave a token with the new key ({signing_key.certificate_id}). "
            "Consumers still get tokens from the active key until you activate it.",
        )
    return _back(authentication)


def _confirmation(
    request: HttpRequest, authentication: HttpAuthentication, action: str, **context: object
) -> HttpResponse:
    """The page asking for one irreversible action; 200, as it changes nothing."""
    return render(
        request,
        f"authentications/confirm_{action}.html",
        {"authentication": authentication, "retention_days": selectors.retention().days, **context},
    )


def _nothing_to_confirm(
    request: HttpRequest, authentication: HttpAuthentication, problem: str
) -> HttpResponse:
    # Asking to confirm what would be refused anyway helps nobody: the wizard says why.
    messages.error(request, problem)
    return _back(authentication)


def _pending_or_problem(request: HttpRequest, authentication: HttpAuthentication) -> SigningKey | str:
    try:
        return rotation_base.pending_key_by_id(authentication, named_signing_key_id(request))
    except rotation_base.RotationError as error:
        return str(error)


@require_http_methods(["GET", "POST"])
@sensitive_variables()
def rotate_activate(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = authentication_for(request, identifier, permission=ROTATE_KEY)
    if not confirmed(request):
        pending = _pending_or_problem(request, authentication)
        if isinstance(pending, str):
            return _nothing_to_confirm(request, authentication, pending)
        if pending.verified_at is None:
            return _nothing_to_confirm(request, authentication, rotation.NOT_VERIFIED)
        return _confirmation(
            request, authentication, "activate", new_key=pending, active_key=authentication.active_key()
        )
    try:
        signing_key = rotation.key_activate(
            authentication=authentication,
            signing_key_id=named_signing_key_id(request),
            actor=request.user,
            certificate_id=request.POST.get("certificate_id", ""),
            fingerprint_sha256=request.POST.get("fingerprint_sha256", ""),
            ip_address=client_ip(request),
        )
    except rotation_base.RotationError as error:
        messages.error(request, str(error))
        return _back(authentication)
    messages.success(request, f"The key with Certificate ID {signing_key.certificate_id} is now active.")
    _fresh_token(request, authentication)
    return _back(authentication)


@require_http_methods(["GET", "POST"])
def rotate_abandon(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = authentication_for(request, identifier, permission=ROTATE_KEY)
    if not confirmed(request):
        pending = _pending_or_problem(request, authentication)
        if isinstance(pending, str):
            return _nothing_to_confirm(request, authentication, pending)
        return _confirmation(request, authentication, "abandon", pending_key=pending)
    try:
        pending_keys.key_abandon(
            authentication=authentication,
            signing_key_id=named_signing_key_id(request),
            actor=request.user,
            ip_address=client_ip(request),
        )
    except rotation_base.RotationError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The pending key was deleted; the active key stays as it was.")
    return _back(authentication)


@require_http_methods(["GET", "POST"])
@sensitive_variables()
def rotate_rollback(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = authentication_for(request, identifier, permission=ROTATE_KEY)
    if not confirmed(request):
        previous = selectors.rollback_candidate(authentication)
        if previous is None:
            return _nothing_to_confirm(
                request,
                authentication,
                "There is no previous key to roll back to: none was retired within the retention, "
                "or its private key was wiped, its certificate revoked in NetSuite, or expired.",
            )
        return _confirmation(
            request, authentication, "rollback", previous_key=previous, active_key=authentication.active_key()
        )
    try:
        signing_key = retired_keys.key_rollback(
            authentication=authentication, actor=request.user, ip_address=client_ip(request)
        )
    except rotation_base.RotationError as error:
        messages.error(request, str(error))
        return _back(authentication)
    messages.success(
        request, f"Rolled back: the key with Certificate ID {signing_key.certificate_id} is active again."
    )
    _fresh_token(request, authentication)
    return _back(authentication)


def _fresh_token(request: HttpRequest, authentication: HttpAuthentication) -> None:
    problem = rotation.token_after_swap(
        authentication=authentication, actor=request.user, ip_address=client_ip(request)
    )
    if problem:
        messages.warning(
            request,
            f"The key is active, but a new token could not be retrieved with it yet: {problem} "
            "The scheduler tries again.",
        )
