from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from authentications.audit_views import audit_trail
from authentications.dashboard_views import dashboard_page

urlpatterns = [
    path("", dashboard_page, name="home"),
    path("authentications/", include("authentications.urls")),
    path("audit/", audit_trail, name="audit"),
    path("api/v1/", include("api.urls")),
    path("api-clients/", include("api.client_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
