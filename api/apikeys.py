"""API keys: how they are made, hashed, read from a request and matched to their client.

A key is "nsc_" and 32 random bytes. With that much entropy a single SHA-256 is as safe
as a slow password hash and costs microseconds, which matters on every API request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import ExpressionWrapper, F, OuterRef, Subquery, TextField
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.views.decorators.debug import sensitive_variables

from api.models import ApiClient
from authentications.fields import DecryptionError, decrypt
from authentications.models import AccessToken, HttpAuthentication, SigningKey

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


@dataclass(frozen=True)
class Grant:
    """A key's client allowed to read one authentication, with what serving its token needs:
    the stored token (None if there is none or it no longer decrypts) and the active key's expiry."""

    client: ApiClient
    authentication: HttpAuthentication
    token: AccessToken | None
    key_expires_at: datetime | None


@sensitive_variables()
def grant_for_key(key: str, identifier: str) -> Grant | None:
    """The grant of this key to the authentication, in one query; None if the key is unknown or
    revoked, or may not read it, or no authentication has this identifier (the caller tells which)."""
    digest = key_hash(key)
    ciphertext = ExpressionWrapper(F("httpauthentication__access_token__value"), output_field=TextField())
    active_keys = SigningKey.objects.filter(
        authentication=OuterRef("httpauthentication"), state=SigningKey.State.ACTIVE
    ).order_by("pk")
    links = (
        ApiClient.authentications.through.objects.filter(
            apiclient__key_prefix=key_prefix(key),
            apiclient__revoked_at__isnull=True,
            httpauthentication__identifier=identifier,
        )
        .select_related("apiclient", "httpauthentication", "httpauthentication__access_token")
        # Decrypted below, so that a token no other key opens reads as none instead of failing the query.
        .defer("httpauthentication__access_token__value")
        .annotate(
            token_ciphertext=ciphertext,
            key_expires_at=Subquery(active_keys.values("effective_expires_at")[:1]),
        )
    )
    link: Any  # a row of the through model, with the two annotations above
    for link in links:
        if constant_time_compare(link.apiclient.key_hash, digest):
            authentication = link.httpauthentication
            return Grant(
                client=link.apiclient,
                authentication=authentication,
                token=_decrypted(authentication.current_token(), link.token_ciphertext),
                key_expires_at=link.key_expires_at,
            )
    return None


@sensitive_variables()
def _decrypted(token: AccessToken | None, ciphertext: str | None) -> AccessToken | None:
    if token is None or not ciphertext:
        return None
    try:
        token.value = decrypt(ciphertext)
    except DecryptionError:
        return None
    return token
