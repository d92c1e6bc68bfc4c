"""The list of HTTP authentications: searched, filtered by state and enabled, paginated, and
drawn in the same few queries however many rows it shows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from authentications.models import AccessToken, HttpAuthentication, SigningKey

pytestmark = pytest.mark.django_db

LIST = "/authentications/"


def names(response: Any) -> list[str]:
    return [authentication.name for authentication in response.context["page_obj"]]


def copies(authentication: HttpAuthentication, count: int, *, token: bool = False) -> None:
    """`count` more authentications like this one (its active key and, with token=True, a
    valid token each), named Copy 01, Copy 02, ...: quicker than saving each through the form."""
    key = SigningKey.objects.get(authentication=authentication, state=SigningKey.State.ACTIVE)
    for n in range(1, count + 1):
        copy = HttpAuthentication.objects.get(pk=authentication.pk)
        copy.pk = None
        copy.name, copy.identifier = f"Copy {n:02d}", f"copy-{n:02d}"
        copy.save()
        SigningKey.objects.create(
            **{
                field.name: getattr(key, field.name)
                for field in SigningKey._meta.concrete_fields
                if field.name not in ("id", "authentication")
            },
            authentication=copy,
        )
        if token:
            now = timezone.now()
            AccessToken.objects.create(
                authentication=copy,
                value="not a real token",
                obtained_at=now,
                expires_at=now + dt.timedelta(hours=1),
            )


@pytest.fixture
def three(authentication_in_state: Any) -> dict[str, HttpAuthentication]:
    return {
        "acme": authentication_in_state("Acme ERP", token_seconds=3600, account_id="1234567"),
        "globex": authentication_in_state("Globex CRM"),
        "initech": authentication_in_state("Initech HR", token_seconds=3600, enabled=False),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=acme", ["Acme ERP"]),
        ("q=CRM", ["Globex CRM"]),
        ("q=initech-hr", ["Initech HR"]),  # the identifier
        ("q=1234567", ["Acme ERP"]),  # the account ID
        ("q=zzz", []),
        ("state=healthy", ["Acme ERP"]),
        ("state=no-token", ["Globex CRM"]),
        ("enabled=no", ["Initech HR"]),
        ("enabled=yes", ["Acme ERP", "Globex CRM"]),
        ("q=e&state=healthy&enabled=yes", ["Acme ERP"]),
        ("q=&state=&enabled=", ["Acme ERP", "Globex CRM", "Initech HR"]),
    ],
)
def test_search_and_filters_narrow_the_list(
    alice_client: Any, three: dict[str, Any], query: str, expected: list[str]
) -> None:
    response = alice_client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert names(response) == expected


def test_search_finds_the_start_of_a_consumer_key_in_any_case(
    alice_client: Any, three: dict[str, Any]
) -> None:
    start = three["globex"].consumer_key[:12].upper()
    assert names(alice_client.get(f"{LIST}?q={start}")) == ["Globex CRM"]


def test_the_filter_form_has_labels_and_keeps_what_was_asked(
    alice_client: Any, three: dict[str, Any]
) -> None:
    page = alice_client.get(f"{LIST}?q=acme&state=healthy").content.decode()
    assert 'role="search" method="get"' in page
    for field, label in (("q", "Search"), ("state", "State"), ("enabled", "Enabled")):
        assert re.search(rf'<label\s+for="id_{field}" class="form-label">\s*{label}\s*</label>', page), label
    assert 'type="search" name="q" value="acme"' in page
    assert '<option value="healthy" selected>Healthy</option>' in page
    assert "Found 1 of 3 HTTP authentications." in page


def test_an_unknown_state_shows_an_error_and_no_rows(alice_client: Any, three: dict[str, Any]) -> None:
    response = alice_client.get(f"{LIST}?state=splendid")
    assert response.status_code == 200
    assert names(response) == []
    assert "Select a valid choice" in response.content.decode()


def test_each_row_shows_its_state_in_words(alice_client: Any, three: dict[str, Any]) -> None:
    page = alice_client.get(LIST).content.decode()
    assert '<span class="badge state text-bg-success">Healthy</span>' in page
    assert '<span class="badge state text-bg-light border">No token yet</span>' in page
    assert '<span class="badge state text-bg-secondary">Disabled</span>' in page
    assert "3 HTTP authentications." in page


def test_it_shows_25_a_page_and_page_links_keep_the_filters(
    alice_client: Any, authentication_in_state: Any
) -> None:
    copies(authentication_in_state("Acme ERP"), 30)  # 31 rows: Acme ERP, Copy 01 ... Copy 30

    first = alice_client.get(f"{LIST}?q=copy")
    assert names(first) == [f"Copy {n:02d}" for n in range(1, 26)]
    page = first.content.decode()
    assert "Found 30 of 31 HTTP authentications. Showing 1–25." in page
    assert 'href="?q=copy&amp;page=2"' in page

    second = alice_client.get(f"{LIST}?q=copy&page=2")
    assert names(second) == [f"Copy {n:02d}" for n in range(26, 31)]
    assert 'href="?q=copy&amp;page=1"' in second.content.decode()


@pytest.mark.parametrize(
    ("page", "expected"), [("99", 2), ("-1", 2), ("0", 2), ("two", 1), ("", 1), ("9" * 30, 2)]
)
def test_a_page_that_does_not_exist_shows_the_nearest_one(
    alice_client: Any, authentication_in_state: Any, page: str, expected: int
) -> None:
    copies(authentication_in_state("Acme ERP"), 30)
    response = alice_client.get(f"{LIST}?page={page}")
    assert response.status_code == 200
    assert response.context["page_obj"].number == expected


def test_the_queries_do_not_grow_with_the_rows(alice_client: Any, authentication_in_state: Any) -> None:
    acme = authentication_in_state("Acme ERP", token_seconds=3600)
    alice_client.get(LIST)  # the session and permissions, once
    with CaptureQueriesContext(connection) as few:
        assert alice_client.get(LIST).status_code == 200
    copies(acme, 24, token=True)
    with CaptureQueriesContext(connection) as many:
        response = alice_client.get(LIST)
    assert len(names(response)) == 25
    assert len(many) == len(few)


def test_a_full_page_takes_a_handful_of_queries(
    alice_client: Any, authentication_in_state: Any, django_assert_max_num_queries: Any
) -> None:
    copies(authentication_in_state("Acme ERP", token_seconds=3600), 24, token=True)
    alice_client.get(LIST)
    with django_assert_max_num_queries(8):
        alice_client.get(f"{LIST}?state=healthy&q=copy")
