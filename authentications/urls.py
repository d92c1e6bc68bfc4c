"""URLs of the dashboard's authentication pages, key pairs and rotation wizard."""

from __future__ import annotations

from django.urls import path

from authentications.views import (
    authentication_form,
    authentications,
    key_pairs,
    netsuite_certificates,
    rotation,
)

app_name = "authentications"

urlpatterns = [
    path("", authentications.authentication_list, name="list"),
    path("new/", authentication_form.authentication_create, name="create"),
    # "keys" is a reserved identifier, and these come first, so no authentication shadows them.
    path("keys/new/", key_pairs.key_pair_create, name="key_create"),
    path("keys/<int:pk>/", key_pairs.key_pair_detail, name="key_detail"),
    path(
        "keys/<int:pk>/certificate.pem",
        key_pairs.key_pair_certificate,
        {"extension": "pem"},
        name="key_certificate_pem",
    ),
    path(
        "keys/<int:pk>/certificate.crt",
        key_pairs.key_pair_certificate,
        {"extension": "crt"},
        name="key_certificate_crt",
    ),
    path("<slug:identifier>/", authentications.authentication_detail, name="detail"),
    path("<slug:identifier>/edit/", authentication_form.authentication_edit, name="edit"),
    path("<slug:identifier>/delete/", authentications.authentication_delete, name="delete"),
    path("<slug:identifier>/retrieve-token/", authentications.token_retrieve, name="retrieve_token"),
    path("<slug:identifier>/test-request/", authentications.test_request, name="test_request"),
    # The key rotation wizard: one page, and a POST per step (views/rotation.py).
    path("<slug:identifier>/rotate/", rotation.rotate, name="rotate"),
    path("<slug:identifier>/rotate/generate/", rotation.rotate_generate, name="rotate_generate"),
    path(
        "<slug:identifier>/rotate/certificate-id/",
        rotation.rotate_certificate_id,
        name="rotate_certificate_id",
    ),
    path("<slug:identifier>/rotate/verify/", rotation.rotate_verify, name="rotate_verify"),
    path("<slug:identifier>/rotate/activate/", rotation.rotate_activate, name="rotate_activate"),
    path("<slug:identifier>/rotate/abandon/", rotation.rotate_abandon, name="rotate_abandon"),
    path("<slug:identifier>/rotate/rollback/", rotation.rotate_rollback, name="rotate_rollback"),
    # NetSuite's certificate endpoint, from the wizard (views/netsuite_certificates.py).
    path(
        "<slug:identifier>/rotate/netsuite-upload/",
        netsuite_certificates.netsuite_certificate_upload,
        name="netsuite_certificate_upload",
    ),
    path(
        "<slug:identifier>/rotate/netsuite-revoke/",
        netsuite_certificates.netsuite_certificate_revoke,
        name="netsuite_certificate_revoke",
    ),
]
