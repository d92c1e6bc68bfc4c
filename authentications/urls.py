from __future__ import annotations

from django.urls import path

from authentications import views

app_name = "authentications"

urlpatterns = [
    path("", views.authentication_list, name="list"),
    path("new/", views.authentication_create, name="create"),
    path("<slug:identifier>/", views.authentication_detail, name="detail"),
    path("<slug:identifier>/edit/", views.authentication_edit, name="edit"),
    path("<slug:identifier>/delete/", views.authentication_delete, name="delete"),
    path("<slug:identifier>/retrieve-token/", views.token_retrieve, name="retrieve_token"),
    path("<slug:identifier>/test-request/", views.test_request, name="test_request"),
]
