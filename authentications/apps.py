"""The authentications app: its start-up checks and sign-in receivers are registered here."""

from __future__ import annotations

from django.apps import AppConfig


class AuthenticationsConfig(AppConfig):
    name = "authentications"
    verbose_name = "HTTP authentications"

    def ready(self) -> None:
        pass
