"""API clients in the Django admin: read-only like the rest, and without the key's hash."""

from __future__ import annotations

from django.contrib import admin

from api.models import ApiClient, ApiUsage
from authentications.admin import ReadOnlyAdmin


@admin.register(ApiClient)
class ApiClientAdmin(ReadOnlyAdmin):
    list_display = ["name", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "key_prefix"]
    exclude = ["key_hash", "window_started_at", "window_count"]


@admin.register(ApiUsage)
class ApiUsageAdmin(ReadOnlyAdmin):
    list_display = ["client", "authentication", "count", "last_used_at"]
