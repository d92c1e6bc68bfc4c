"""The cursor of the hot paths' statements (authentications.statements): on PostgreSQL it
prepares them, once per connection; everywhere it fails, and is counted, as any cursor."""

from __future__ import annotations

import gc
import weakref

import psycopg
import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from authentications.models import SigningKey
from authentications.services import token_attempt, token_sweep
from authentications.statements import index_condition_literal, prepared_cursor
from tests.api.consumer import get_token

pytestmark = pytest.mark.django_db


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_token_apis_grant_is_prepared_once_per_connection(client, acme, issue, fake_netsuite):
    """GIVEN a token stored for acme-erp WHEN its API key asks for it three times THEN the
    grant's statement is prepared on the connection once, and run from there."""
    key = issue(acme).key
    assert get_token(client, "acme-erp", key).status_code == 200  # stores the token

    for _ in range(3):
        assert get_token(client, "acme-erp", key).status_code == 200

    grants = [sql for sql in prepared_statements() if "api_apiclient_authentications" in sql]
    assert len(grants) == 1, grants
    # The key's prefix and the identifier are parameters, not written into it.
    assert "$2" in grants[0] and "$3" not in grants[0]


def plan(statement: str, params: list[int]) -> str:
    """How the database runs a statement; on PostgreSQL as a prepared statement's generic plan
    (the one kept after a few runs), on SQLite as its module's cached statement runs it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET plan_cache_mode = force_generic_plan")
            numbered = statement.replace("%s", "{}").format(*(f"${n}" for n in range(1, len(params) + 1)))
            cursor.execute(f"PREPARE planned AS {numbered}")
            try:
                cursor.execute(f"EXPLAIN EXECUTE planned ({', '.join(['%s'] * len(params))})", params)
                return "\n".join(line for (line,) in cursor.fetchall())
            finally:
                cursor.execute("DEALLOCATE planned")
                cursor.execute("RESET plan_cache_mode")
        cursor.execute(f"EXPLAIN QUERY PLAN {statement}", params)
        return "\n".join(str(row) for row in cursor.fetchall())


@pytest.mark.parametrize(
    "statement_of",
    [token_sweep._active_key_statement, token_attempt._locked_statement],
    ids=["the refresh's key read", "the stored token's locked row"],
)
def test_a_refresh_finds_its_key_by_the_one_active_key_index(acme, statement_of):
    """GIVEN a statement a refresh runs to find the active key WHEN the database plans it once
    for every run THEN it finds the key through the partial index of active keys: the state is
    written into the statement, so that no value bound later can make the index unusable
    (PostgreSQL's generic plan could not use it; SQLite prepared the statement on every run)."""
    statement = statement_of(connection)

    assert statement.count("%s") == 1  # the authentication; the state is no parameter
    assert "one_active_signing_key_per_authentication" in plan(statement, [acme.pk])


def test_only_a_plain_word_is_written_into_a_statement():
    """GIVEN a value for a partial index's condition WHEN it is written into SQL THEN a plain
    lower-case word is quoted, and anything else is refused rather than written."""
    assert index_condition_literal(SigningKey.State.ACTIVE.value) == "'active'"
    for value in ["active' OR '1'='1", "Active", "", "act ive"]:
        with pytest.raises(ValueError, match="not written into SQL"):
            index_condition_literal(value)


def test_its_errors_are_djangos():
    """GIVEN a statement the database refuses WHEN the prepared cursor runs it THEN Django's
    DatabaseError is raised (what the token API answers with a 503), not the driver's own."""
    with pytest.raises(DatabaseError), prepared_cursor(connection) as cursor:
        cursor.execute("SELECT * FROM no_such_table WHERE id = %s", [1])


def test_it_reads_placeholders_as_djangos_own_cursor_does():
    """GIVEN a statement with a placeholder and an escaped percent sign WHEN the cursor runs it
    twice (the second time from the statement's rewritten text) THEN both give the same row."""
    for value in (41, 99):
        with prepared_cursor(connection) as cursor:
            cursor.execute("SELECT %s + 1, '100%%'", [value])
            assert cursor.fetchone() == (value + 1, "100%")


def test_a_statement_run_while_another_is_read_has_a_cursor_of_its_own():
    """GIVEN rows being read from the prepared cursor WHEN another statement runs on a prepared
    cursor meanwhile THEN the first one's rows are still there (the kept cursor is not shared)."""
    with prepared_cursor(connection) as outer:
        outer.execute("VALUES (1), (2), (3)")
        assert outer.fetchone() == (1,)
        with prepared_cursor(connection) as inner:
            inner.execute("SELECT %s + 1", [41])
            assert inner.fetchone() == (42,)
        assert outer.fetchall() == [(2,), (3,)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the kept cursor is PostgreSQL's")
def test_a_closed_connection_is_let_go():
    """GIVEN a connection the kept cursor was made on WHEN it is closed (CONN_MAX_AGE, a
    dropped connection) and the next statement runs on its successor THEN nothing holds the
    closed one any more: a process does not keep every connection it ever closed."""
    with prepared_cursor(connection) as cursor:
        cursor.execute("SELECT %s + 1", [1])
    closed = weakref.ref(connection.connection)
    connection.close()
    with prepared_cursor(connection) as cursor:
        cursor.execute("SELECT %s + 1", [2])
        assert cursor.fetchone() == (3,)
    gc.collect()

    assert closed() is None


def test_its_statements_are_counted_like_any_other():
    """GIVEN queries being captured (as assertNumQueries does) WHEN the prepared cursor runs a
    statement THEN it is among them, with its values."""
    with CaptureQueriesContext(connection) as captured, prepared_cursor(connection) as cursor:
        cursor.execute("SELECT %s + 1", [41])
        assert cursor.fetchone() == (42,)

    assert [query["sql"] for query in captured.captured_queries] == ["SELECT 41 + 1"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_a_column_changed_by_a_migration_after_preparing_costs_no_request(client, acme, issue, fake_netsuite):
    """GIVEN the grant prepared on a kept connection WHEN another process changes the type of
    a column it reads (as `migrate` does while the web processes run) THEN the next request is
    served: the statement is prepared anew, not failed with "cached plan must not change result
    type" until the connection is replaced."""
    key = issue(acme).key
    assert get_token(client, "acme-erp", key).status_code == 200
    assert get_token(client, "acme-erp", key).status_code == 200  # served by the prepared grant
    column = "ALTER TABLE api_apiclient ALTER COLUMN name TYPE varchar({})"
    with other_connection() as other:
        other.execute(column.format(101))
    try:
        again = get_token(client, "acme-erp", key)
    finally:
        with other_connection() as other:
            other.execute(column.format(100))

    assert again.status_code == 200, again.content


def other_connection() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    )
