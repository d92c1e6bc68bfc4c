"""EncryptedTextField: text kept encrypted at rest with MultiFernet.

The first key in NSCONNECT_ENCRYPTION_KEYS encrypts; every key decrypts, so a
new key can be put in front and old rows re-encrypted later.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.views.decorators.debug import sensitive_variables


@lru_cache(maxsize=4)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def get_fernet() -> MultiFernet:
    # Read on use, not at import, so override_settings and key rotation work.
    keys = tuple(settings.NSCONNECT_ENCRYPTION_KEYS)
    if not keys:
        raise ImproperlyConfigured("NSCONNECT_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    return _multi_fernet(keys)


class DecryptionError(ImproperlyConfigured):
    """A stored secret that none of NSCONNECT_ENCRYPTION_KEYS opens (the key that encrypted it
    was removed). An ImproperlyConfigured, as before, so that callers that caught that still do;
    its own type lets the token attempt record it as a failure a person can act on."""


@sensitive_variables()
def encrypt(text: str) -> str:
    return get_fernet().encrypt(text.encode()).decode("ascii")


@sensitive_variables()
def decrypt(token: str, fernet: MultiFernet | None = None) -> str:
    """The text of a stored token, opened with `fernet` (the present keys' by default)."""
    try:
        return (fernet or get_fernet()).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        # Say which setting is wrong; never echo the ciphertext.
        raise DecryptionError(
            "A stored secret cannot be decrypted with NSCONNECT_ENCRYPTION_KEYS "
            "(was the key that encrypted it removed?)."
        ) from None


class EncryptedTextField(models.TextField):
    """A TextField whose database column holds only Fernet tokens ("" stays "")."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
