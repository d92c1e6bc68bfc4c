"""The site's URLs: sign-in and password pages, the dashboard, the apps, the admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from authentications.views import sign_in
from authentications.views.audit import audit_trail
from authentications.views.dashboard import dashboard_page

# django.contrib.auth's account pages, spelled out: password reset is offered only when
# email is delivered and is throttled, and wrong old passwords on password change count as
# failed sign-ins (authentications/views/sign_in.py).
account_urls = [
    path("login/", sign_in.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", sign_in.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password_reset/", sign_in.PasswordResetRequestView.as_view(), name="password_reset"),
    path("password_reset/done/", sign_in.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/", sign_in.PasswordResetConfirmView.as_view(), name="password_reset_confirm"
    ),
    path("reset/done/", sign_in.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

urlpatterns = [
    path("", dashboard_page, name="home"),
    path("authentications/", include("authentications.urls")),
    path("audit/", audit_trail, name="audit"),
    path("api/v1/", include("api.urls")),
    path("api-clients/", include("api.client_urls")),
    path("accounts/", include(account_urls)),
    # The admin's own password change would check old passwords unthrottled: ours instead.
    path("admin/password_change/", RedirectView.as_view(pattern_name="password_change")),
    path("admin/", admin.site.urls),
]
