"""URLs of the API client pages (key administrators), under /api-clients/."""

from __future__ import annotations

from django.urls import path

from api import client_views

app_name = "api_clients"

urlpatterns = [
    path("", client_views.client_list, name="list"),
    path("new/", client_views.client_create, name="create"),
    path("<int:pk>/revoke/", client_views.client_revoke, name="revoke"),
]
