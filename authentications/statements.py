"""Cursors for the statements the hot paths run on every token request and refresh.

On PostgreSQL their statements are prepared: planned once per connection, not on every run.
Django binds parameters in the client and never prepares (`prepare_threshold` is None), so
PostgreSQL parsed and planned the token API's five-table grant on each request: 0.5 ms of its
CPU, twice what running it took. A prepared statement needs server-side binding, which Django
offers only for every query of a connection (`server_side_binding`); here it is one cursor's.

Behind a pooler in transaction mode, prepared statements need PgBouncer 1.22 or later with
`max_prepared_statements` set, or NSCONNECT_PREPARED_STATEMENTS=false (README, "Running in
production").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]
from django.db.backends.utils import CursorWrapper
from psycopg import errors, pq


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


@contextmanager
def prepared_cursor(connection: BaseDatabaseWrapper) -> Iterator[CursorWrapper]:
    """A cursor of `connection` whose statements PostgreSQL prepares; elsewhere its own cursor.

    Opened as `connection.cursor()` opens one (the connection's health check, its opening), and
    its errors are Django's (DatabaseError and kin) as any cursor's. While queries are logged
    (DEBUG, assertNumQueries) it is the connection's own cursor: Django can write out a statement
    bound in the client only, and a log of "None" would help nobody."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or connection.queries_logged:
            yield cursor
            return
        with connection.make_cursor(_PreparingCursor(connection.connection)) as preparing:
            yield preparing
