from __future__ import annotations

from django.apps import AppConfig


class AuthenticationsConfig(AppConfig):
    name = "authentications"
    verbose_name = "HTTP authentications"

    def ready(self) -> None:
        from authentications import checks, sign_in  # noqa: F401  (registers the checks and receivers)
