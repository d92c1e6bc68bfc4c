"""The rotation wizard's "Upload to NetSuite" and "Revoke old certificate in NetSuite" buttons.

Each POST calls one service in services/netsuite_certificates.py and shows what NetSuite
answered as it came: its bodies are not documented, so the person sees them. Revoke first
asks: a GET of its URL, or a POST without `confirmed`, shows what will happen and what cannot
be undone, and changes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from authentications.models import HttpAuthentication, SigningKey
from authentications.permissions import ROTATE_KEY, authentication_for
from authentications.services import netsuite_certificates
from authentications.web import client_ip, confirmed, named_signing_key_id

RESULT_TEMPLATE = "authentications/netsuite_certificate_result.html"


def _authentication_and_key(request: HttpRequest, identifier: str) -> tuple[HttpAuthentication, SigningKey]:
    """The authentication, and the key of it the button was pressed for: 403 or 404 as usual."""
    authentication = authentication_for(request, identifier, permission=ROTATE_KEY)
    signing_key = get_object_or_404(authentication.signing_keys, pk=named_signing_key_id(request))
    return authentication, signing_key


@require_POST
@sensitive_variables()
def netsuite_certificate_upload(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication, signing_key = _authentication_and_key(request, identifier)
    context = {"authentication": authentication, "signing_key": signing_key, "operation": "upload"}
    try:
        result = netsuite_certificates.netsuite_certificate_upload(
            authentication=authentication,
            signing_key=signing_key,
            actor=request.user,
            ip_address=client_ip(request),
        )
    except ValueError as error:  # refused before asking NetSuite: the wizard says why
        messages.error(request, str(error))
        return redirect("authentications:rotate", identifier=authentication.identifier)
    except netsuite_certificates.CertificateEndpointError as error:
        return render(request, RESULT_TEMPLATE, {**context, "error": error.message}, status=502)
    return render(request, RESULT_TEMPLATE, {**context, "answer": result.answer, "stored": result.stored})


@require_http_methods(["GET", "POST"])
@sensitive_variables()
def netsuite_certificate_revoke(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication, signing_key = _authentication_and_key(request, identifier)
    if not confirmed(request):
        problem = netsuite_certificates.revoke_problem(authentication, signing_key)
        if problem:  # refused anyway: the wizard says why, as after the button
            messages.error(request, problem)
            return redirect("authentications:rotate", identifier=authentication.identifier)
        return render(
            request,
            "authentications/confirm_revoke.html",
            {"authentication": authentication, "retired_key": signing_key},
        )
    context = {"authentication": authentication, "signing_key": signing_key, "operation": "revoke"}
    try:
        answer = netsuite_certificates.netsuite_certificate_revoke(
            authentication=authentication,
            signing_key=signing_key,
            actor=request.user,
            ip_address=client_ip(request),
        )
    except ValueError as error:
        messages.error(request, str(error))
        return redirect("authentications:rotate", identifier=authentication.identifier)
    except netsuite_certificates.CertificateEndpointError as error:
        return render(request, RESULT_TEMPLATE, {**context, "error": error.message}, status=502)
    return render(request, RESULT_TEMPLATE, {**context, "answer": answer})
