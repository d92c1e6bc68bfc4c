"""A database connection the server dropped (a restart, an idle timeout) costs a token API
consumer nothing: connections are not checked before each request (CONN_HEALTH_CHECKS off),
so the API reads again, once, on a new connection."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from tests.api.consumer import get_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs the test database on PostgreSQL")
def test_a_connection_the_server_dropped_is_replaced_and_the_token_served(client, acme, issue, fake_netsuite):
    """GIVEN a token already served to a key, on a connection kept for the next request
    WHEN PostgreSQL ends that connection (as a restart does) and the key asks again
    THEN the same token is served (200), from a new connection."""
    key = issue(acme).key
    first = get_token(client, "acme-erp", key)
    assert first.status_code == 200
    dropped = connection.connection.info.backend_pid
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [dropped]).fetchone() == (True,)

    again = get_token(client, "acme-erp", key)

    assert again.status_code == 200, again.content
    assert again.json()["access_token"] == first.json()["access_token"]
    assert connection.connection.info.backend_pid != dropped
