"""URLs of the token API, under /api/v1/: JSON for services holding an API key."""

from __future__ import annotations

from django.urls import path, re_path

from api import views

app_name = "api"

urlpatterns = [
    # Identifiers are slugs (the model's SlugField): anything else, a NUL say, is no endpoint (404),
    # not a query the database refuses.
    path("authentications/<slug:identifier>/token", views.token, name="token"),
    path("openapi.json", views.openapi_document, name="openapi"),
    # Anything else under /api/v1/ is answered in JSON too, not with the dashboard's 404 page.
    re_path(r"^(?P<path>.*)$", views.not_found),
]
