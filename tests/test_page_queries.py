"""The pages people open most make as many SQL queries for one authentication as for 5,000,
and for a short audit trail as for 100,000 events: a query per row, or per option, would show."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import scale_seed

pytestmark = pytest.mark.django_db

PAGES = ["/", "/authentications/", "/audit/", "/audit/?authentication={pk}", "/audit/?action=token.retrieved"]
OLDER = re.compile(r'<a class="page-link" href="([^"]+)">Older</a>')


def queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(captured)


def counted(client: Any) -> dict[str, int]:
    """The queries of each page, and of the audit trail's next page when there is one."""
    pk = scale_seed.first_authentication_pk()
    counts = {path: queries(client, path.format(pk=pk)) for path in PAGES}
    older = OLDER.search(client.get("/audit/").content.decode())
    if older:
        counts["/audit/, next page"] = queries(client, "/audit/" + unescape(older.group(1)))
    return counts


def test_the_queries_of_each_page_do_not_grow_with_the_rows(alice_client: Any) -> None:
    """GIVEN one authentication, then 50, then 5,000, then 100,000 more audit events
    THEN each page makes the same number of queries every time."""
    scale_seed.authentications(0, 1)
    alice_client.get("/")  # the session and permissions, once
    seen = {"1 authentication": counted(alice_client)}
    scale_seed.authentications(1, 50)
    seen["50 authentications"] = counted(alice_client)
    scale_seed.authentications(50, 5000)
    seen["5,000 authentications"] = counted(alice_client)
    scale_seed.audit_events(100_000)
    seen["and 100,000 audit events"] = counted(alice_client)

    for page in seen["50 authentications"]:
        by_size = {size: counts[page] for size, counts in seen.items() if page in counts}
        assert len(set(by_size.values())) == 1, f"{page}: {by_size}"
