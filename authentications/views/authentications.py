"""The HTTP authentication pages other than its form: the list (searched, filtered, paginated),
the detail page, delete, and the detail page's "Retrieve an access token key" and "Send test
request" buttons."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from authentications import selectors
from authentications.forms.list_filter import AuthenticationFilterForm
from authentications.models import HttpAuthentication
from authentications.permissions import (
    DELETE,
    RETRIEVE_TOKEN,
    authentication_for,
)
from authentications.services import (
    authentication_records,
    rest_probe,
    token_single_flight,
)
from authentications.views.authentication_form import RetrieveOutcome
from authentications.web import client_ip, is_htmx

AUTHENTICATIONS_PER_PAGE = 25


@require_http_methods(["GET"])
def authentication_list(request: HttpRequest) -> HttpResponse:
    form = AuthenticationFilterForm(request.GET)
    # A filter that names nothing known shows its error and no rows, rather than every row.
    if form.is_valid():
        rows = selectors.authentications_listed(**form.criteria())
    else:
        rows = selectors.authentications_listed().none()
    # get_page: a page past the end is the last page, and one that is no number the first.
    page = Paginator(rows, AUTHENTICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "authentications/list.html",
        {
            "form": form,
            "page_obj": page,
            "page_numbers": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "total": selectors.authentications_total(),
            "filtered": form.is_valid() and form.is_filtering(),
        },
    )


@require_http_methods(["GET"])
def authentication_detail(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = authentication_for(request, identifier, permission=None)
    # Read again with its states, for the badges by its name.
    return _render_detail(request, selectors.authentication_reread(authentication))


def _render_detail(request: HttpRequest, authentication: HttpAuthentication, **extra: object) -> HttpResponse:
    return render(
        request,
        "authentications/detail.html",
        {
            "authentication": authentication,
            "active_key": authentication.active_key(),
            "token": authentication.current_token(),
            "audit_events": authentication.audit_events.all()[:10],
            # Key history, newest first; the private key stays in the database.
            "signing_keys": authentication.signing_keys.defer("private_key").select_related(
                "activated_by", "retired_by"
            ),
            "rollback_key": selectors.rollback_candidate(authentication),
            "test_path": rest_probe.TEST_REQUEST_PATH,
            **extra,
        },
    )


@require_POST
@sensitive_variables()
def token_retrieve(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = authentication_for(request, identifier, permission=RETRIEVE_TOKEN)
    try:
        token = token_single_flight.token_get(
            authentication=authentication, actor=request.user, fresh=True, ip_address=client_ip(request)
        )
        outcome = RetrieveOutcome(ok=True, expires_at=token.expires_at)
    except token_single_flight.TokenRequestError as error:
        outcome = RetrieveOutcome(ok=False, message=error.message)
    if is_htmx(request):
        return _htmx_result(
            request, "authentications/_retrieve_result.html", _result_context(authentication, outcome=outcome)
        )
    if outcome.ok:
        assert outcome.expires_at is not None  # noqa: S101
        valid_until = timezone.localtime(outcome.expires_at)
        messages.success(request, f"Access token retrieved, valid until {valid_until:%Y-%m-%d %H:%M %Z}.")
    else:
        messages.error(request, outcome.message)
    return redirect("authentications:detail", identifier=authentication.identifier)


@require_http_methods(["GET", "POST"])
def authentication_delete(request: HttpRequest, identifier: str) -> HttpResponse:
    authentication = authentication_for(request, identifier, permission=DELETE)
    if request.method == "POST":
        authentication_records.authentication_delete(
            authentication=authentication, actor=request.user, ip_address=client_ip(request)
        )
        messages.success(request, f"Deleted {authentication.name}.")
        return redirect("authentications:list")
    return render(request, "authentications/confirm_delete.html", {"authentication": authentication})


@require_POST
@sensitive_variables()
def test_request(request: HttpRequest, identifier: str) -> HttpResponse:
    """Call a NetSuite REST resource with the current token and show what came back."""
    authentication = authentication_for(request, identifier, permission=RETRIEVE_TOKEN)
    path = request.POST.get("path", "")
    outcome = rest_probe.rest_probe_send(
        authentication=authentication, path=path, actor=request.user, ip_address=client_ip(request)
    )
    context = {
        # Echoed into the field as posted, but never more than the field takes.
        "test_path": path[: rest_probe.MAX_REST_PATH_CHARS] or rest_probe.TEST_REQUEST_PATH,
        "test_result": outcome.answer,
        "test_error": outcome.error,
    }
    if is_htmx(request):
        return _htmx_result(
            request, "authentications/_test_request_result.html", _result_context(authentication, **context)
        )
    # The token the request may have retrieved, and its status.
    return _render_detail(request, selectors.authentication_reread(authentication), **context)


def _result_context(authentication: HttpAuthentication, **result: object) -> dict[str, object]:
    """A button's result for htmx, with the page's token status, which the button made stale:
    the result template sends it out of band to replace the one on the page."""
    return {**result, "status_of": selectors.authentication_reread(authentication), "status_oob": True}


def _htmx_result(request: HttpRequest, template: str, context: dict[str, object]) -> HttpResponse:
    """The button's result, and the state badges by the page's title sent out of band: a token
    retrieved or refused changes them too."""
    badges = render_to_string(
        "authentications/includes/state_badges_box.html",
        {"authentication": context["status_of"], "oob": True},
        request,
    )
    return HttpResponse(render_to_string(template, context, request) + badges)
