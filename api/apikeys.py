"""API keys: how they are made, hashed, read from a request and matched to their client.

A key is "nsc_" and 32 random bytes. With that much entropy a single SHA-256 is as safe
as a slow password hash and costs microseconds, which matters on every API request.
"""

from __future__ import annotations

import hashlib
import secrets

from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.views.decorators.debug import sensitive_variables

from api.models import ApiClient

KEY_START = "nsc_"
PREFIX_LENGTH = 8
# token_urlsafe(32) gives 43 characters; anything much shorter or longer is not ours.
MIN_KEY_LENGTH = len(KEY_START) + 40
MAX_KEY_LENGTH = 200


@sensitive_variables()
def new_key() -> str:
    return KEY_START + secrets.token_urlsafe(32)


def key_prefix(key: str) -> str:
    return key[len(KEY_START) : len(KEY_START) + PREFIX_LENGTH]


@sensitive_variables()
def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@sensitive_variables()
def bearer_key(request: HttpRequest) -> str | None:
    """The key of an `Authorization: Bearer nsc_...` header; None if the header holds nothing like one."""
    scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
    key = key.strip()
    # The scheme is case-insensitive (RFC 7235); the key is not.
    if scheme.lower() != "bearer" or not key.startswith(KEY_START):
        return None
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        return None
    return key


@sensitive_variables()
def client_for_key(key: str) -> ApiClient | None:
    """The unrevoked client this key belongs to, or None."""
    digest = key_hash(key)
    for client in ApiClient.objects.filter(key_prefix=key_prefix(key), revoked_at__isnull=True):
        if constant_time_compare(client.key_hash, digest):
            return client
    return None
