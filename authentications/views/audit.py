"""The audit trail page: every AuditEvent, newest first, filtered by authentication, actor and action.

Read-only on purpose: audit rows are written by services.audit_trail.audit() and nothing else.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from authentications.forms.audit_filter import AuditFilterForm
from authentications.models import AuditEvent

EVENTS_PER_PAGE = 50


@require_http_methods(["GET"])
def audit_trail(request: HttpRequest) -> HttpResponse:
    # Signed-in users only: LoginRequiredMiddleware sends everyone else to the sign-in page.
    form = AuditFilterForm(request.GET)
    events = AuditEvent.objects.select_related("authentication").order_by("-created_at", "-id")
    # A filter that names nothing known shows its error and no rows, rather than every row.
    events = form.filter(events) if form.is_valid() else events.none()
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "authentications/audit_trail.html", {"form": form, "page_obj": page})
