"""The URLs of the bench's web server: the product's, and a trivial JSON view that the token API
is measured against, served by the same gunicorn through the same middleware. Not in the
product's URLs: nothing but the bench serves it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.urls import include, path


@login_not_required
def trivial(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("bench/trivial/", trivial),
    path("", include("nsconnect.urls")),
]
