from __future__ import annotations

from django.urls import path

from authentications import key_views, views

app_name = "authentications"

urlpatterns = [
    path("", views.authentication_list, name="list"),
    path("new/", views.authentication_create, name="create"),
    # "keys" is a reserved identifier, and these come first, so no authentication shadows them.
    path("keys/new/", key_views.key_pair_create, name="key_create"),
    path("keys/<int:pk>/", key_views.key_pair_detail, name="key_detail"),
    path(
        "keys/<int:pk>/certificate.pem",
        key_views.key_pair_certificate,
        {"extension": "pem"},
        name="key_certificate_pem",
    ),
    path(
        "keys/<int:pk>/certificate.crt",
        key_views.key_pair_certificate,
        {"extension": "crt"},
        name="key_certificate_crt",
    ),
    path("<slug:identifier>/", views.authentication_detail, name="detail"),
    path("<slug:identifier>/edit/", views.authentication_edit, name="edit"),
    path("<slug:identifier>/delete/", views.authentication_delete, name="delete"),
    path("<slug:identifier>/retrieve-token/", views.token_retrieve, name="retrieve_token"),
    path("<slug:identifier>/test-request/", views.test_request, name="test_request"),
]
