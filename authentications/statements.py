"""Cursors for the statements the hot paths run on every token request and refresh.

On PostgreSQL their statements are prepared: planned once per connection, not on every run.
Django binds parameters in the client and never prepares (`prepare_threshold` is None), so
PostgreSQL parsed and planned the token API's five-table grant on each request: 0.5 ms of its
CPU, twice what running it took. A prepared statement needs server-side binding, which Django
offers only for every query of a connection (`server_side_binding`); here it is one cursor's.

On SQLite, whose module keeps prepared statements by their text already, the statement's
placeholders are rewritten once, not on every run (Django's regular expression took 13 µs, more
than SQLite's answer to a refresh's key read).

Behind a pooler in transaction mode, prepared statements need PgBouncer 1.22 or later with
`max_prepared_statements` set, or NSCONNECT_PREPARED_STATEMENTS=false (README, "Running in
production").
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX, SQLiteCursorWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from psycopg import errors, pq
from psycopg.types.datetime import TimestamptzLoader


class _PreparingCursor(ServerBindingCursor):
    """Server-side binding, and every statement prepared (unless the connection's
    `prepare_threshold` is None: NSCONNECT_PREPARED_STATEMENTS off). psycopg keeps the last 100
    per connection, and forgets them all on a rollback."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        try:
            return super().execute(query, params, prepare=True, binary=binary)
        except (errors.FeatureNotSupported, errors.InvalidSqlStatementName):
            # "cached plan must not change result type": a migration changed a column this
            # statement reads, after it was prepared here; or the statement is gone (a pooler
            # lost it). Outside a transaction, forget every statement prepared here (psycopg
            # clears its own list on seeing DEALLOCATE ALL) and run it once more, prepared anew.
            if self.connection.info.transaction_status != pq.TransactionStatus.IDLE:
                raise
            self.connection.execute("DEALLOCATE ALL")
            return super().execute(query, params, prepare=True, binary=binary)


class _ConvertingOnceCursor(SQLiteCursorWrapper):
    """Django's SQLite cursor, with each statement's "%s" placeholders made "?" once per text."""

    def execute(self, query: str, params: Any = None) -> Any:
        if not isinstance(params, list | tuple):  # none, or named: Django's own way
            return super().execute(query, params)
        return sqlite3.Cursor.execute(self, _converted(query), params)


@functools.lru_cache(maxsize=64)
def _converted(query: str) -> str:
    # As SQLiteCursorWrapper converts; the hot paths' statements are a handful of fixed texts.
    return FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


def _new_preparing_cursor(connection: BaseDatabaseWrapper) -> _PreparingCursor:
    cursor = _PreparingCursor(connection.connection)
    if connection.timezone is not None:  # USE_TZ: aware values, in the session's zone
        # psycopg's own loader, which it replaces with its C one. Django's subclass of it
        # (which sets Django's zone, the session's too) cannot be replaced: it parsed each
        # timestamp in Python, a sixth of the grant's reading.
        cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
    return cursor


@dataclass
class _Kept:
    """A database connection's preparing cursor, made once (making one costs more than running
    a prepared statement does), for the driver connection it was made on."""

    driver_connection: Any
    cursor: _PreparingCursor
    in_use: bool = False


# Kept on Django's connection (one per thread), so a closed driver connection is let go when
# the next statement finds its successor, and a thread's connection with the thread.
_KEPT = "nsconnect_prepared_cursor"


def _kept(connection: BaseDatabaseWrapper) -> _Kept:
    kept: _Kept | None = getattr(connection, _KEPT, None)
    if kept is None or kept.driver_connection is not connection.connection or kept.cursor.closed:
        kept = _Kept(connection.connection, _new_preparing_cursor(connection))
        setattr(connection, _KEPT, kept)
    return kept


@contextmanager
def prepared_cursor(connection: BaseDatabaseWrapper) -> Iterator[CursorWrapper]:
    """A cursor of `connection` whose statements PostgreSQL prepares (and whose placeholders
    SQLite's gets rewritten once); elsewhere its own cursor.

    Opened as `connection.cursor()` opens one (the connection's health check, its opening, the
    thread check), and its errors are Django's (DatabaseError and kin) as any cursor's. While
    queries are logged (DEBUG, assertNumQueries) it is the connection's own cursor: Django can
    write out a statement bound in the client only, and a log of "None" would help nobody."""
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite") or connection.queries_logged:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    kept = _kept(connection) if vendor == "postgresql" else None
    if kept is None or kept.in_use:  # SQLite's, or one opened while the kept one is read
        raw: Any  # a driver's cursor, which django-stubs types as Django's wrapper
        with connection.wrap_database_errors:
            raw = (
                _ConvertingOnceCursor(connection.connection)
                if kept is None
                else _new_preparing_cursor(connection)
            )
        with connection.make_cursor(raw) as cursor:
            yield cursor
        return
    kept.in_use = True
    try:
        yield connection.make_cursor(kept.cursor)
    finally:
        kept.in_use = False


def index_condition_literal(value: str) -> str:
    """A constant that a partial index is defined on (`state = 'active'`), written as a literal
    into a statement rather than bound as a parameter: with a parameter there, SQLite prepares
    the statement again on every run (the index fits one value only; 7 µs became 32 µs) and
    PostgreSQL's generic plan of a prepared statement cannot use the index at all."""
    if not re.fullmatch(r"[a-z_]+", value):
        raise ValueError(f"{value!r} is not a plain lower-case word, so it is not written into SQL")
    return f"'{value}'"


# --- one instance read from a row ----------------------------------------------------------

_M = TypeVar("_M", bound=Model)


def instance_from_row(model: type[_M], alias: str, attnames: Sequence[str], values: Sequence[Any]) -> _M:
    """What `model.from_db(alias, attnames, values)` returns (the fields not named are left
    unread), built as unpickling builds an instance: its values put in place at once, where
    __init__ walks every field of the model and sets the named ones one by one (9-10 µs for 5
    columns of 20 here, more than the statement that read them). A model with pre_init or
    post_init receivers is built by from_db, so that they run."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model.from_db(alias, list(attnames), list(values))
    instance = model.__new__(model)
    instance.__dict__.update(zip(attnames, values, strict=True))
    state = instance._state = ModelState()
    state.adding, state.db = False, alias
    return instance


# --- one row written by its primary key ---------------------------------------------------
# A refresh stores its token, its status and its audit event through these: Model.save()
# composed each statement anew (0.3-0.5 ms of CPU apiece, a fifth of a refresh), and wrote it
# with its values bound in the client.

_WRITES: dict[tuple[Any, ...], tuple[str, list[Any]]] = {}


def _database_of(instance: Model) -> BaseDatabaseWrapper:
    return connections[router.db_for_write(type(instance), instance=instance)]


def _values(instance: Model, fields: list[Any], connection: BaseDatabaseWrapper, *, add: bool) -> list[Any]:
    # As save() takes them: each field's pre_save (a default date, auto_now) and database value
    # (an encrypted text, a JSON document, an address).
    return [field.get_db_prep_save(field.pre_save(instance, add), connection) for field in fields]


def update_row(instance: Model, field_names: Sequence[str]) -> bool:
    """Write these fields of the instance to its row, as `save(update_fields=...)` does but for
    its signals; False if no row has its primary key."""
    # As save() refuses an unsaved related object (and takes the id of one saved since).
    instance._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
    connection = _database_of(instance)
    meta = instance._meta
    key = ("update", type(instance), tuple(field_names), connection.vendor)
    if key not in _WRITES:
        quote = connection.ops.quote_name
        fields: list[Any] = [meta.get_field(name) for name in field_names]
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
        _WRITES[key] = (
            f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s",  # noqa: S608
            fields,
        )
    statement, fields = _WRITES[key]
    params = [
        *_values(instance, fields, connection, add=False),
        meta.pk.get_db_prep_value(instance.pk, connection),
    ]
    with prepared_cursor(connection) as cursor:
        cursor.execute(statement, params)
        return bool(cursor.rowcount)


def insert_row(instance: Model) -> None:
    """Insert the instance as a new row, as `save()` does but for its signals; its primary key
    is the one it has, or the one the database gives it."""
    # As save() refuses an unsaved related object (and takes the id of one saved since).
    instance._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
    connection = _database_of(instance)
    meta = instance._meta
    given = instance.pk is not None
    key = ("insert", type(instance), given, connection.vendor)
    returning = not given and connection.features.can_return_columns_from_insert
    if key not in _WRITES:
        quote = connection.ops.quote_name
        fields = [field for field in meta.concrete_fields if given or field is not meta.pk]
        columns = ", ".join(quote(field.column) for field in fields)
        statement = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
        )
        if returning:
            statement += f" RETURNING {quote(meta.pk.column)}"
        _WRITES[key] = (statement, fields)
    statement, fields = _WRITES[key]
    params = _values(instance, fields, connection, add=True)
    with prepared_cursor(connection) as cursor:
        cursor.execute(statement, params)
        if not given:
            instance.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    instance._state.adding = False
    instance._state.db = connection.alias
