"""The Django admin: every model listed, read-only, no secret ever shown.

Changes go through the dashboard, where they are validated and audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey


class ReadOnlyAdmin(admin.ModelAdmin):
    # Django 5.2 warns about URLField's default scheme even on a view-only page.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(HttpAuthentication)
class HttpAuthenticationAdmin(ReadOnlyAdmin):
    list_display = ["name", "identifier", "provider", "jwt_algorithm", "enabled", "last_success_at"]
    search_fields = ["name", "identifier", "consumer_key"]


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ["authentication", "certificate_id", "state", "key_type", "effective_expires_at"]
    list_filter = ["state", "key_type"]
    exclude = ["private_key"]


@admin.register(AccessToken)
class AccessTokenAdmin(ReadOnlyAdmin):
    list_display = ["authentication", "token_type", "obtained_at", "expires_at"]
    exclude = ["value"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_label", "action", "authentication_name", "ip_address"]
    list_filter = ["action"]
    search_fields = ["authentication_name", "actor_label"]
