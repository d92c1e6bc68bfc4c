"""The authentications app: its start-up checks and sign-in receivers are registered here."""

from __future__ import annotations

from django.apps import AppConfig


class AuthenticationsConfig(AppConfig):
    name = "authentications"
    verbose_name = "HTTP authentications"

    def ready(self) -> None:
        # Imported for what importing them does: registers the system checks and the sign-in
        # signal receivers, wherever Django starts (manage.py, gunicorn, the worker).
        from authentications import checks  # noqa: F401
        from authentications.views import sign_in  # noqa: F401
