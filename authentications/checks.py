"""System checks that stop the app from starting with unsafe configuration."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def check_secrets(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    if not settings.DEBUG and not getattr(settings, "SECRET_KEY_FROM_ENV", True):
        errors.append(
            Error(
                "SECRET_KEY is not set while DEBUG is off.",
                hint="Set SECRET_KEY in the environment to a long random value "
                "(python -c 'import secrets; print(secrets.token_urlsafe(50))').",
                id="nsconnect.E001",
            )
        )
    keys = settings.NSCONNECT_ENCRYPTION_KEYS
    if not keys:
        errors.append(
            Error(
                "NSCONNECT_ENCRYPTION_KEYS is empty: private keys and tokens cannot be encrypted.",
                hint="Set it to one or more Fernet keys, comma separated "
                "(python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())').",
                id="nsconnect.E002",
            )
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                Error(
                    f"NSCONNECT_ENCRYPTION_KEYS entry {position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes).",
                    id="nsconnect.E003",
                )
            )
    return errors


@register()
def check_allowlist(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    for origin in settings.NSCONNECT_TOKEN_URL_ALLOWLIST:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            errors.append(
                Error(
                    f"NSCONNECT_TOKEN_URL_ALLOWLIST entry {origin!r} is not an origin "
                    "like https://host:port.",
                    id="nsconnect.E004",
                )
            )
    return errors
