"""The Django admin: every model listed, no secret ever shown or editable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey


class SigningKeyInline(admin.TabularInline):
    model = SigningKey
    extra = 0
    can_delete = False
    fields = ("certificate_id", "state", "key_type", "key_size", "curve", "effective_expires_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(HttpAuthentication)
class HttpAuthenticationAdmin(admin.ModelAdmin):
    list_display = ["name", "identifier", "provider", "jwt_algorithm", "enabled", "last_success_at"]
    search_fields = ["name", "identifier", "consumer_key"]
    readonly_fields = ["identifier", "last_success_at", "last_error", "failing_since", "consecutive_failures"]
    inlines = [SigningKeyInline]


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ["authentication", "certificate_id", "state", "key_type", "effective_expires_at"]
    list_filter = ["state", "key_type"]
    exclude = ["private_key"]
    readonly_fields = [
        "authentication",
        "certificate_id",
        "certificate_pem",
        "key_type",
        "key_size",
        "curve",
        "fingerprint_sha256",
        "subject",
        "not_before",
        "not_after",
        "effective_expires_at",
        "state",
        "created_by",
        "created_at",
        "activated_at",
        "retired_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = ["authentication", "token_type", "obtained_at", "expires_at"]
    exclude = ["value"]
    readonly_fields = ["authentication", "token_type", "obtained_at", "expires_at", "signing_key"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "action", "authentication_name", "ip_address"]
    list_filter = ["action"]
    search_fields = ["authentication_name", "actor_label"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
