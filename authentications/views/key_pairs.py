"""Pages for key pairs generated in nsconnect: make one, read its facts, download its certificate.

The private key is on none of them: only the certificate leaves nsconnect.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, urlencode
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from authentications import selectors
from authentications.forms.key_pair import JwtAlgorithmForm, KeyPairForm
from authentications.models import SigningKey
from authentications.permissions import ADD, ROTATE_KEY, require_permission
from authentications.services import key_pairs
from authentications.web import client_ip, is_htmx

CERTIFICATE_CONTENT_TYPES = {"pem": "application/x-pem-file", "crt": "application/x-x509-ca-cert"}


def _get_signing_key(request: HttpRequest, pk: int) -> SigningKey:
    # 404, not 403, for someone else's unattached key: its existence is nobody else's business.
    visible = selectors.signing_keys_visible_to(request.user).defer("private_key")
    return get_object_or_404(visible, pk=pk)


@require_http_methods(["GET", "POST"])
@require_permission(ADD, ROTATE_KEY, any_of=True)
@sensitive_variables()
def key_pair_create(request: HttpRequest) -> HttpResponse:
    """Its own page, and the panel on the authentication form (htmx)."""
    panel = "authentications/_key_pair_panel.html"
    if request.method == "GET":
        if is_htmx(request):
            # "Use another key pair" on the authentication form: the empty panel again, and every
            # JWT algorithm offered again, for whatever key comes instead.
            context = {"key_pair_form": KeyPairForm(), "open": True, "algorithm_form": JwtAlgorithmForm(None)}
            return render(request, panel, context)
        form = KeyPairForm.named(request.GET.get("name", ""))
        return _render_page(request, form, request.GET.get("for", ""))
    # On the authentication form the common name may be left empty: the Name is used.
    form = KeyPairForm(request.POST, fallback_name=request.POST.get("name", ""))
    if not form.is_valid():
        if is_htmx(request):
            # 200, as htmx swaps no error responses: the panel shows the messages at its fields.
            return render(request, panel, {"key_pair_form": form, "open": True})
        return _render_page(request, form, request.POST.get("for", ""), status=422)
    signing_key = key_pairs.key_pair_generate(
        actor=request.user,
        kind=form.cleaned_data["kind"],
        days=form.cleaned_data["days"],
        common_name=form.cleaned_data["common_name"],
        ip_address=client_ip(request),
    )
    if is_htmx(request):
        context = {
            "generated_key": signing_key,
            "open": True,
            "algorithm_form": JwtAlgorithmForm(signing_key),
        }
        return render(request, panel, context)
    messages.success(request, f"Generated a new {signing_key.key_description} key pair.")
    url = reverse("authentications:key_detail", args=[signing_key.pk])
    target = selectors.key_pair_target(request.POST.get("for", ""))
    return redirect(f"{url}?{urlencode({'for': target.identifier})}" if target else url)


def _render_page(request: HttpRequest, form: KeyPairForm, identifier: str, status: int = 200) -> HttpResponse:
    context = {"form": form, "target": selectors.key_pair_target(identifier)}
    return render(request, "authentications/key_pair_form.html", context, status=status)


@require_http_methods(["GET"])
def key_pair_detail(request: HttpRequest, pk: int) -> HttpResponse:
    signing_key = _get_signing_key(request, pk)
    target = selectors.key_pair_target(request.GET.get("for", ""))
    return render(
        request,
        "authentications/key_pair_detail.html",
        {
            "signing_key": signing_key,
            "target": target if signing_key.authentication is None else None,
            # An unused key pair is deleted after these days (key_pairs.key_pairs_delete_unused).
            "deleted_after": signing_key.created_at + key_pairs.unused_key_pair_age(),
        },
    )


@require_http_methods(["GET"])
def key_pair_certificate(request: HttpRequest, pk: int, extension: str) -> HttpResponse:
    """The certificate to upload in NetSuite, as <identifier>.pem or .crt (the same PEM text)."""
    signing_key = _get_signing_key(request, pk)
    filename = f"{key_pairs.certificate_file_stem(signing_key)}.{extension}"
    return HttpResponse(
        signing_key.certificate_pem,
        content_type=CERTIFICATE_CONTENT_TYPES[extension],
        headers={"Content-Disposition": content_disposition_header(True, filename)},
    )
