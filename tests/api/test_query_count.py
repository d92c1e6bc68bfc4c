"""A token API request for a stored, valid token costs one query, however many clients and
authentications there are: no write per request, so requests of one API key never queue on a row."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.api.consumer import get_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def counted_in_cache(settings):
    settings.NSCONNECT_API_COUNT_IN_CACHE = True
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize("others", [0, 30])
def test_a_cached_token_costs_one_query(
    client,
    acme,
    issue,
    register,
    create_authentication,
    fake_netsuite,
    counted_in_cache,
    others,
    django_assert_num_queries,
):
    """GIVEN a client allowed to read acme-erp, and `others` more authentications and clients
    WHEN it asks for acme-erp's token, already stored
    THEN the answer costs one query: client, permission, authentication, key and token joined."""
    key = issue(acme).key
    for number in range(others):
        extra = create_authentication(register("p256"), name=f"Extra {number}")
        issue(acme, extra, name=f"Client {number}")
    assert get_token(client, "acme-erp", key).status_code == 200  # stores the token
    with django_assert_num_queries(1):
        assert get_token(client, "acme-erp", key).status_code == 200
