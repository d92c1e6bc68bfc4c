"""The dashboard at /: counts, the next certificate expiries, the latest failures."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from authentications import selectors


@require_http_methods(["GET"])
def dashboard_page(request: HttpRequest) -> HttpResponse:
    counts = selectors.counts(timezone.now())
    listed = reverse("authentications:list")
    tiles = [
        ("Authentications", counts.authentications, "secondary", listed),
        ("Healthy", counts.healthy, "success", listed),
        ("Failing", counts.failing, "danger" if counts.failing else "secondary", listed),
        ("Expiring within 30 days", counts.expiring, "warning" if counts.expiring else "secondary", listed),
        ("Expired", counts.expired, "danger" if counts.expired else "secondary", listed),
    ]
    return render(
        request,
        "dashboard.html",
        {
            "tiles": tiles,
            "next_expiries": selectors.next_expiries(),
            "latest_failures": selectors.latest_failures(),
        },
    )
