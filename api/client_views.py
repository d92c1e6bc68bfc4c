"""Pages for API clients (key administrators): list them, issue a key (shown once), revoke one."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from api import services
from api.forms import ApiClientForm
from api.models import ApiClient
from authentications.permissions import MANAGE_API_CLIENTS, require_permission
from authentications.web import client_ip


def _listed_clients() -> QuerySet[ApiClient]:
    return (
        ApiClient.objects.select_related("created_by")
        .prefetch_related("authentications")
        .annotate(total_uses=Sum("usages__count", default=0))
    )


# Signed-in is already enforced by LoginRequiredMiddleware; API keys open tokens, so a role is needed.
@require_http_methods(["GET"])
@require_permission(MANAGE_API_CLIENTS)
def client_list(request: HttpRequest) -> HttpResponse:
    # Uses counted in the cache since the last flush are shown too, not up to a flush late.
    services.api_usage_flush()
    return render(request, "api/client_list.html", {"clients": _listed_clients()})


# The answer to a successful POST carries the key: no browser or proxy may keep a copy.
@never_cache
@require_http_methods(["GET", "POST"])
@require_permission(MANAGE_API_CLIENTS)
@sensitive_variables()
def client_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "api/client_form.html", {"form": ApiClientForm()})
    form = ApiClientForm(request.POST)
    if not form.is_valid():
        return render(request, "api/client_form.html", {"form": form}, status=422)
    issued = services.api_client_create(
        actor=request.user,
        name=form.cleaned_data["name"],
        authentications=form.cleaned_data["authentications"],
        ip_address=client_ip(request),
    )
    # Rendered, not redirected: the key lives only in this one response.
    return render(request, "api/client_key.html", {"client": issued.client, "key": issued.key})


@require_http_methods(["GET", "POST"])
@require_permission(MANAGE_API_CLIENTS)
def client_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(ApiClient, pk=pk)
    if request.method == "POST":
        if services.api_client_revoke(client=client, actor=request.user, ip_address=client_ip(request)):
            messages.success(request, f"Revoked the API key of {client.name}.")
        else:
            messages.info(request, f"The API key of {client.name} was already revoked.")
        return redirect("api_clients:list")
    return render(request, "api/client_confirm_revoke.html", {"client": client})
