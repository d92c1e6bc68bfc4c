"""API keys: how they are made, hashed, read from a request and matched to their client.

A key is "nsc_" and 32 random bytes. With that much entropy a single SHA-256 is as safe
as a slow password hash and costs microseconds, which matters on every API request.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.views.decorators.debug import sensitive_variables

from api.models import ApiClient
from authentications.fields import DecryptionError, decrypt
from authentications.models import AccessToken, HttpAuthentication, SigningKey
from authentications.statements import index_condition_literal, instance_from_row, prepared_cursor

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
    # Looked up once: each use of django.db.connection looks the connection up again.
    database = connections[DEFAULT_DB_ALIAS]
    query = _grant_query(database.vendor)
    with prepared_cursor(database) as cursor:
        cursor.execute(query.sql, [key_prefix(key), identifier])
        rows = cursor.fetchall()
    for row in rows:
        client = query.client.instance(row, database)
        if constant_time_compare(client.key_hash, digest):
            authentication = query.authentication.instance(row, database)
            ciphertext = row[query.ciphertext]
            token = query.token.instance(row, database) if ciphertext is not None else None
            if token is not None:
                token.authentication = authentication
            return Grant(
                client=client,
                authentication=authentication,
                token=_decrypted(token, ciphertext),
                key_expires_at=query.key_expires_at.value(row, database),
            )
    return None


@dataclass(frozen=True)
class _Columns:
    """Where one model's columns sit in a row of the grant query, and how to read them back."""

    model: type[models.Model]
    start: int
    attnames: list[str]
    # Per column that needs any: its place, its expression and what Django's compiler would
    # apply to it (SQLite's dates and booleans, say). Most columns need none.
    converting: tuple[tuple[int, Any, tuple[Any, ...]], ...]

    @classmethod
    def of(
        cls, model: type[models.Model], alias: str, start: int, skip: str = ""
    ) -> tuple[_Columns, list[str]]:
        fields = [field for field in model._meta.concrete_fields if field.name != skip]
        names = [f"{alias}.{connection.ops.quote_name(field.column)}" for field in fields]
        attnames = [field.attname for field in fields]
        converting = tuple(
            (index, column, converters)
            for index, (column, converters) in enumerate(_converters(field, alias) for field in fields)
            if converters
        )
        return cls(model, start, attnames, converting), names

    def values(self, row: tuple[Any, ...], database: BaseDatabaseWrapper) -> list[Any]:
        values = list(row[self.start : self.start + len(self.attnames)])
        for index, column, converters in self.converting:
            for converter in converters:
                values[index] = converter(values[index], column, database)
        return values

    def value(self, row: tuple[Any, ...], database: BaseDatabaseWrapper) -> Any:
        return self.values(row, database)[0]

    def instance(self, row: tuple[Any, ...], database: BaseDatabaseWrapper) -> Any:
        return instance_from_row(self.model, database.alias, self.attnames, self.values(row, database))


def _converters(field: Any, alias: str) -> tuple[Any, tuple[Any, ...]]:
    column = field.get_col(alias)
    return column, tuple(connection.ops.get_db_converters(column) + field.get_db_converters(connection))


@dataclass(frozen=True)
class _GrantQuery:
    sql: str
    client: _Columns
    authentication: _Columns
    token: _Columns
    ciphertext: int
    key_expires_at: _Columns


@functools.cache
def _grant_query(vendor: str) -> _GrantQuery:
    """The grant's SQL, written once per process: the ORM would build and compile the same
    five-table query on every request, which costs more than the database's answer.

    The key's client, the link that lets it read the authentication, the authentication, its
    token (its value still encrypted: a token no key opens reads as none) and the active key's
    expiry. A client whose key is revoked is not found."""
    quote = connection.ops.quote_name
    link = ApiClient._meta.get_field("authentications")
    client, client_names = _Columns.of(ApiClient, "c", 0)
    authentication, authentication_names = _Columns.of(HttpAuthentication, "a", len(client_names))
    start = len(client_names) + len(authentication_names)
    token, token_names = _Columns.of(AccessToken, "t", start, skip="value")
    expiry_field = SigningKey._meta.get_field("effective_expires_at")
    expiry_converters = _converters(expiry_field, "k")
    key_expires_at = _Columns(
        SigningKey,
        start + len(token_names) + 1,
        [expiry_field.attname],
        ((0, *expiry_converters),) if expiry_converters[1] else (),
    )
    keys = SigningKey._meta
    active = index_condition_literal(SigningKey.State.ACTIVE.value)
    columns = ", ".join([*client_names, *authentication_names, *token_names, f"t.{quote('value')}"])
    # Only names from the models' own metadata, quoted; the values are parameters but the
    # active state, a checked literal.
    sql = (
        f"SELECT {columns}, "  # noqa: S608
        f"(SELECT k.{quote(expiry_field.column)} FROM {quote(keys.db_table)} k "
        f"WHERE k.{quote(keys.get_field('authentication').column)} = a.{quote('id')} "
        f"AND k.{quote(keys.get_field('state').column)} = {active} ORDER BY k.{quote('id')} LIMIT 1) "
        f"FROM {quote(link.m2m_db_table())} l "
        f"JOIN {quote(ApiClient._meta.db_table)} c ON c.{quote('id')} = l.{quote(link.m2m_column_name())} "
        f"JOIN {quote(HttpAuthentication._meta.db_table)} a "
        f"ON a.{quote('id')} = l.{quote(link.m2m_reverse_name())} "
        f"LEFT JOIN {quote(AccessToken._meta.db_table)} t "
        f"ON t.{quote(AccessToken._meta.get_field('authentication').column)} = a.{quote('id')} "
        f"WHERE c.{quote('key_prefix')} = %s AND c.{quote('revoked_at')} IS NULL "
        f"AND a.{quote('identifier')} = %s"
    )
    return _GrantQuery(sql, client, authentication, token, start + len(token_names), key_expires_at)


@sensitive_variables()
def _decrypted(token: AccessToken | None, ciphertext: str | None) -> AccessToken | None:
    if token is None or not ciphertext:
        return None
    try:
        token.value = decrypt(ciphertext)
    except DecryptionError:
        return None
    return token
