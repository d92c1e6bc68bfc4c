"""The rotation wizard's pages: new key, Certificate ID, verify, activate, abandon, roll back.

Each action is a POST that calls one service in rotation.py and returns to the wizard,
which shows the step the rotation is at, so a rotation left half way resumes there.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from authentications import retired_keys, rotation
from authentications.forms import AuthenticationForm
from authentications.keypairs import KeyPairForm
from authentications.models import HttpAuthentication
from authentications.web import client_ip

rotate_permission = permission_required("authentications.rotate_key", raise_exception=True)


class CertificateIdForm(forms.Form):
    # The same field and check as on the authentication form.
    certificate_id = AuthenticationForm.base_fields["certificate_id"]

    clean_certificate_id = AuthenticationForm.clean_certificate_id


def _get(identifier: str) -> HttpAuthentication:
    return get_object_or_404(HttpAuthentication, identifier=identifier)


def _signing_key_id(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("signing_key", ""))
    except ValueError:
        return 0


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
    pending = rotation.pending_key(authentication)
    if pending is None:
        step = 1
    elif not pending.certificate_id:
        step = 2
    else:
        step = 4 if pending.verified_at else 3
    initial = {"certificate_id": pending.certificate_id if pending else ""}
    return render(
        request,
        "authentications/rotate.html",
        {
            "authentication": authentication,
            "active_key": authentication.active_key(),
            "pending_key": pending,
            "step": step,
            "key_pair_form": key_pair_form or KeyPairForm(initial={"common_name": authentication.name}),
            "certificate_id_form": certificate_id_form or CertificateIdForm(initial=initial),
            "rollback_key": retired_keys.rollback_candidate(authentication),
            "retention_days": retired_keys.retention().days,
        },
        status=status,
    )


@require_GET
@rotate_permission
def rotate(request: HttpRequest, identifier: str) -> HttpResponse:
    return _page(request, _get(identifier))


@require_POST
@rotate_permission
def rotate_generate(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = _get(identifier)
    form = KeyPairForm(request.POST, fallback_name=authentication.name)
    if not form.is_valid():
        return _page(request, authentication, key_pair_form=form, status=422)
    try:
        rotation.key_generate_pending(
            authentication=authentication,
            actor=request.user,
            kind=form.cleaned_data["kind"],
            days=form.cleaned_data["days"],
            common_name=form.cleaned_data["common_name"],
            ip_address=client_ip(request),
        )
    except rotation.RotationError as error:
        messages.error(request, str(error))
    return _back(authentication)


@require_POST
@rotate_permission
def rotate_certificate_id(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = _get(identifier)
    form = CertificateIdForm(request.POST)
    if not form.is_valid():
        return _page(request, authentication, certificate_id_form=form, status=422)
    try:
        rotation.key_set_certificate_id(
            authentication=authentication,
            signing_key_id=_signing_key_id(request),
            certificate_id=form.cleaned_data["certificate_id"],
        )
    except rotation.RotationError as error:
        form.add_error("certificate_id", str(error))
        return _page(request, authentication, certificate_id_form=form, status=422)
    return _back(authentication)


@require_POST
@rotate_permission
def rotate_verify(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = _get(identifier)
    try:
        signing_key = rotation.key_verify(
            authentication=authentication,
            signing_key_id=_signing_key_id(request),
            actor=request.user,
            ip_address=client_ip(request),
        )
    except rotation.RotationError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"NetSuite gave a token with the new key ({signing_key.certificate_id}). "
            "Consumers still get tokens from the active key until you activate it.",
        )
    return _back(authentication)


@require_POST
@rotate_permission
def rotate_activate(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = _get(identifier)
    try:
        signing_key = rotation.key_activate(
            authentication=authentication,
            signing_key_id=_signing_key_id(request),
            actor=request.user,
            certificate_id=request.POST.get("certificate_id", ""),
            fingerprint_sha256=request.POST.get("fingerprint_sha256", ""),
            ip_address=client_ip(request),
        )
    except rotation.RotationError as error:
        messages.error(request, str(error))
        return _back(authentication)
    messages.success(request, f"The key with Certificate ID {signing_key.certificate_id} is now active.")
    _fresh_token(request, authentication)
    return _back(authentication)


@require_POST
@rotate_permission
def rotate_abandon(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = _get(identifier)
    try:
        rotation.key_abandon(
            authentication=authentication,
            signing_key_id=_signing_key_id(request),
            actor=request.user,
            ip_address=client_ip(request),
        )
    except rotation.RotationError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The pending key was deleted; the active key stays as it was.")
    return _back(authentication)


@require_POST
@rotate_permission
def rotate_rollback(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = _get(identifier)
    try:
        signing_key = retired_keys.key_rollback(
            authentication=authentication, actor=request.user, ip_address=client_ip(request)
        )
    except rotation.RotationError as error:
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
