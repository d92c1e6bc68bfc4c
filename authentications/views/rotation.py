"""The rotation wizard's pages: new key, Certificate ID, verify, activate, abandon, roll back.

Each action is a POST that calls one service (pending_keys, rotation, retired_keys) and
returns to the wizard, which shows the step the rotation is at, so a rotation left half
way resumes there.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from authentications import selectors
from authentications.forms import upload_day
from authentications.forms.authentication import AuthenticationForm
from authentications.forms.key_pair import KeyPairForm
from authentications.models import HttpAuthentication, SigningKey
from authentications.services import pending_keys, retired_keys, rotation
from authentications.web import client_ip

rotate_permission = permission_required("authentications.rotate_key", raise_exception=True)


class CertificateIdForm(forms.Form):
    """Step 2: the Certificate ID NetSuite gave the pending key's certificate, and the day it was
    uploaded there (NetSuite's two years count from it)."""

    # The same fields and checks as on the authentication form.
    certificate_id = AuthenticationForm.base_fields["certificate_id"]
    uploaded_on = upload_day.upload_day_field()

    clean_certificate_id = AuthenticationForm.clean_certificate_id

    def __init__(self, *args: Any, pending: SigningKey | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending = pending

    def clean_uploaded_on(self) -> date | None:
        day: date | None = self.cleaned_data["uploaded_on"]
        if day is not None:
            problem = upload_day.problem_with(day, self.pending.not_before if self.pending else None)
            if problem:
                raise forms.ValidationError(problem)
        return day

    def uploaded_at(self) -> datetime | None:
        """The upload day as the service takes it: None when left empty (unknown)."""
        day: date | None = self.cleaned_data["uploaded_on"]
        if day is None or self.pending is None:
            return None
        return upload_day.uploaded_at(day, self.pending.not_before)


def _initial_upload_day(pending: SigningKey | None) -> date | None:
    # A key generated here has no Certificate ID until its certificate is uploaded to NetSuite,
    # which happens as the administrator fills in this step: today, unless they say otherwise.
    known = upload_day.upload_day_of(pending)
    if known is None and pending is not None and not pending.certificate_id:
        return upload_day.today()
    return known


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
    pending = selectors.pending_key(authentication)
    if pending is None:
        step = 1
    elif not pending.certificate_id:
        step = 2
    else:
        step = 4 if pending.verified_at else 3
    initial = {
        "certificate_id": pending.certificate_id if pending else "",
        "uploaded_on": _initial_upload_day(pending),
    }
    previous = selectors.previous_key(authentication)
    return render(
        request,
        "authentications/rotate.html",
        {
            "authentication": authentication,
            "active_key": authentication.active_key(),
            "pending_key": pending,
            "step": step,
            "key_pair_form": key_pair_form or KeyPairForm(initial={"common_name": authentication.name}),
            "certificate_id_form": certificate_id_form or CertificateIdForm(initial=initial, pending=pending),
            "rollback_key": selectors.rollback_candidate(authentication),
            # Said on the page, so nobody wonders where the rollback went.
            "revoked_key": previous if previous is not None and previous.revoked_at else None,
            "retention_days": selectors.retention().days,
        },
        status=status,
    )


@require_GET
@rotate_permission
def rotate(request: HttpRequest, identifier: str) -> HttpResponse:
    return _page(request, _get(identifier))


@require_POST
@rotate_permission
@sensitive_variables()
def rotate_generate(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = _get(identifier)
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
    except pending_keys.RotationError as error:
        messages.error(request, str(error))
    return _back(authentication)


@require_POST
@rotate_permission
def rotate_certificate_id(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = _get(identifier)
    signing_key_id = _signing_key_id(request)
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
    except pending_keys.RotationError as error:
        form.add_error("certificate_id", str(error))
        return _page(request, authentication, certificate_id_form=form, status=422)
    return _back(authentication)


@require_POST
@rotate_permission
@sensitive_variables()
def rotate_verify(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = _get(identifier)
    try:
        signing_key = rotation.key_verify(
            authentication=authentication,
            signing_key_id=_signing_key_id(request),
            actor=request.user,
            ip_address=client_ip(request),
        )
    except pending_keys.RotationError as error:
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
@sensitive_variables()
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
    except pending_keys.RotationError as error:
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
        pending_keys.key_abandon(
            authentication=authentication,
            signing_key_id=_signing_key_id(request),
            actor=request.user,
            ip_address=client_ip(request),
        )
    except pending_keys.RotationError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The pending key was deleted; the active key stays as it was.")
    return _back(authentication)


@require_POST
@rotate_permission
@sensitive_variables()
def rotate_rollback(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = _get(identifier)
    try:
        signing_key = retired_keys.key_rollback(
            authentication=authentication, actor=request.user, ip_address=client_ip(request)
        )
    except pending_keys.RotationError as error:
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
