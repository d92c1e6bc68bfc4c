from __future__ import annotations

from django.urls import path

from authentications import key_views, netsuite_certificate_views, rotation_views, views

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
    # The key rotation wizard: one page, and a POST per step (rotation_views.py).
    path("<slug:identifier>/rotate/", rotation_views.rotate, name="rotate"),
    path("<slug:identifier>/rotate/generate/", rotation_views.rotate_generate, name="rotate_generate"),
    path(
        "<slug:identifier>/rotate/certificate-id/",
        rotation_views.rotate_certificate_id,
        name="rotate_certificate_id",
    ),
    path("<slug:identifier>/rotate/verify/", rotation_views.rotate_verify, name="rotate_verify"),
    path("<slug:identifier>/rotate/activate/", rotation_views.rotate_activate, name="rotate_activate"),
    path("<slug:identifier>/rotate/abandon/", rotation_views.rotate_abandon, name="rotate_abandon"),
    path("<slug:identifier>/rotate/rollback/", rotation_views.rotate_rollback, name="rotate_rollback"),
    # NetSuite's certificate endpoint, from the wizard (netsuite_certificate_views.py).
    path(
        "<slug:identifier>/rotate/netsuite-upload/",
        netsuite_certificate_views.netsuite_certificate_upload,
        name="netsuite_certificate_upload",
    ),
    path(
        "<slug:identifier>/rotate/netsuite-revoke/",
        netsuite_certificate_views.netsuite_certificate_revoke,
        name="netsuite_certificate_revoke",
    ),
]
