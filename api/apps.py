"""The token API app: API clients, their keys and usage, and the JSON endpoints they call."""

from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Token API"
