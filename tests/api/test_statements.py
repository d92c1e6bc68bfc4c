"""The cursor of the hot paths' statements (authentications.statements): on PostgreSQL it
prepares them, once per connection; everywhere it fails, and is counted, as any cursor."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from authentications.statements import prepared_cursor
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
    assert "$3" in grants[0]  # its values are parameters, not written into it


def test_its_errors_are_djangos():
    """GIVEN a statement the database refuses WHEN the prepared cursor runs it THEN Django's
    DatabaseError is raised (what the token API answers with a 503), not the driver's own."""
    with pytest.raises(DatabaseError), prepared_cursor(connection) as cursor:
        cursor.execute("SELECT * FROM no_such_table WHERE id = %s", [1])


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
