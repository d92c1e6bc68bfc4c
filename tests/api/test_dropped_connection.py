"""A database connection the server dropped (a restart, an idle timeout) costs a token API
consumer nothing: connections are not checked before each request (CONN_HEALTH_CHECKS off),
so the API reads again, once, on a new connection."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.api.consumer import get_token
from tests.api.test_statements import other_connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs the test database on PostgreSQL")
def test_a_connection_the_server_dropped_is_replaced_and_the_token_served(
    client, acme, issue, fake_netsuite, monkeypatch
):
    """GIVEN a token already served to a key, on a connection kept for the next request
    WHEN PostgreSQL ends that connection (as a restart does) and the key asks again
    THEN the same token is served (200), from a new connection."""
    # Checked before the request, the dropped connection would be replaced before the API saw it.
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    key = issue(acme).key
    first = get_token(client, "acme-erp", key)
    assert first.status_code == 200
    dropped = connection.connection.info.backend_pid
    with other_connection() as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [dropped]).fetchone() == (True,)

    again = get_token(client, "acme-erp", key)

    assert again.status_code == 200, again.content
    assert again.json()["access_token"] == first.json()["access_token"]
    assert connection.connection.info.backend_pid != dropped
