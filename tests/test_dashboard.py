"""The dashboard at /: what needs attention, at a glance, each count a link to what it counts."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from django.utils import timezone

from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from tests.conftest import put_in_role

pytestmark = pytest.mark.django_db

TILE = re.compile(
    r'<a class="card [^"]*" href="(?P<href>[^"]*)">\s*<div class="card-body">\s*'
    r'<div class="display-6[^"]*">(?P<count>\d+)</div>\s*<div class="text-body">(?P<label>[^<]+)</div>'
)


def tiles(page: str) -> dict[str, tuple[int, str]]:
    """Each tile's count and link, by its label."""
    return {
        match["label"]: (int(match["count"]), html.unescape(match["href"])) for match in TILE.finditer(page)
    }


def expire_in(authentication: HttpAuthentication, days: float) -> None:
    SigningKey.objects.filter(authentication=authentication, state=SigningKey.State.ACTIVE).update(
        effective_expires_at=timezone.now() + dt.timedelta(days=days)
    )


def failing(**fields: Any) -> dict[str, Any]:
    return {"failing_since": timezone.now(), "consecutive_failures": 3, "last_error": "refused", **fields}


@pytest.fixture
def several(authentication_in_state: Any) -> None:
    """GIVEN authentications in different states."""
    authentication_in_state("Healthy", token_seconds=3600)
    authentication_in_state("Also healthy", token_seconds=3600)
    authentication_in_state("New, no token yet")
    authentication_in_state(
        "Backing off", **failing(next_attempt_at=timezone.now() + dt.timedelta(minutes=9))
    )
    authentication_in_state("Stopped", **failing(retries_stopped=True))
    expire_in(authentication_in_state("Soon", token_seconds=3600), 5)
    expire_in(authentication_in_state("Gone"), -2)
    authentication_in_state("Switched off", token_seconds=3600, enabled=False)


def test_it_counts_what_needs_attention(alice_client: Any, several: None) -> None:
    page = alice_client.get("/").content.decode()

    assert {label: count for label, (count, _) in tiles(page).items()} == {
        "Healthy": 3,  # Healthy, Also healthy and Soon: a valid token, in date, not failing
        "No token yet": 2,  # New and Gone (an expired certificate is not healthy either)
        "Failing": 2,
        "Certificate expiring": 1,
        "Certificate expired": 1,
        "Disabled": 1,
    }
    assert '<a href="/authentications/">8 HTTP authentications</a>' in page


def test_a_record_without_a_token_is_not_counted_healthy(
    alice_client: Any, authentication_in_state: Any
) -> None:
    """The record the form saved with no token said "None yet" while this page counted it Healthy."""
    authentication_in_state("Acme ERP")

    found = tiles(alice_client.get("/").content.decode())

    assert found["Healthy"][0] == 0
    assert found["No token yet"][0] == 1


def test_each_tile_links_to_the_list_of_exactly_what_it_counts(alice_client: Any, several: None) -> None:
    found = tiles(alice_client.get("/").content.decode())
    assert len(found) == 6

    for label, (count, href) in found.items():
        response = alice_client.get(href)
        listed = [authentication.name for authentication in response.context["page_obj"]]
        assert response.context["page_obj"].paginator.count == count == len(listed), (label, href, listed)
        assert f"Found {count} of 8 HTTP authentications." in response.content.decode()


def test_the_expiring_tile_leads_to_the_authentication_that_expires(alice_client: Any, several: None) -> None:
    href = tiles(alice_client.get("/").content.decode())["Certificate expiring"][1]
    assert href == "/authentications/?state=expiring"

    response = alice_client.get(href)

    assert [authentication.name for authentication in response.context["page_obj"]] == ["Soon"]
    assert "Certificate expires in 5 days" in response.content.decode()


def test_it_lists_the_next_expiries_in_date_order_with_their_states(
    alice_client: Any, authentication_in_state: Any
) -> None:
    for name, days in [("Later", 200), ("Sooner", 20), ("Soonest", 3)]:
        expire_in(authentication_in_state(name, token_seconds=3600), days)
    page = alice_client.get("/").content.decode()
    positions = [page.index(f">{name}</a>") for name in ("Soonest", "Sooner", "Later")]
    assert positions == sorted(positions)
    assert 'href="/authentications/soonest/"' in page
    assert "3 days left" in page and "text-bg-danger" in page
    assert "Certificate expires in 3 days" in page and "Certificate expires in 20 days" in page
    assert page.count('<span class="badge state text-bg-success">Healthy</span>') == 3


def record_failure(authentication: HttpAuthentication, minutes_ago: int, message: str) -> None:
    AuditEvent.objects.create(
        actor_label="scheduler",
        action=AuditEvent.Action.TOKEN_FAILED,
        authentication=authentication,
        authentication_name=authentication.name,
        created_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
        details={"message": message},
    )


def test_latest_failures_show_one_row_an_authentication_its_latest(
    alice_client: Any, authentication_in_state: Any
) -> None:
    """GIVEN Acme failed three times and Globex once WHEN alice opens the dashboard THEN each
    shows once, with its latest failure, the most recent first."""
    acme = authentication_in_state("Acme ERP")
    globex = authentication_in_state("Globex CRM")
    for minutes_ago in (30, 20, 10):
        record_failure(acme, minutes_ago, f"Acme failure {minutes_ago} minutes ago")
    record_failure(globex, 15, "Globex failure")

    response = alice_client.get("/")

    failures = [
        (event.authentication.name, event.details["message"]) for event in response.context["latest_failures"]
    ]
    assert failures == [("Acme ERP", "Acme failure 10 minutes ago"), ("Globex CRM", "Globex failure")]
    page = response.content.decode()
    assert "Acme failure 20 minutes ago" not in page
    assert f'href="/authentications/{acme.identifier}/"' in page


def test_an_empty_dashboard_says_what_to_do_first(alice_client: Any) -> None:
    page = alice_client.get("/").content.decode()

    assert "No HTTP authentications yet" in page
    assert (
        '<a class="btn btn-primary" href="/authentications/new/">Create your first HTTP authentication</a>'
        in page
    )
    assert '<a href="/authentications/keys/new/">generate a key pair first</a>' in page
    assert "Latest failures" not in page


def test_an_empty_dashboard_tells_a_reader_whom_to_ask(client: Any, django_user_model: Any) -> None:
    reader = django_user_model.objects.create_user(username="rita", password="x")
    client.force_login(reader)

    page = client.get("/").content.decode()

    assert "Create your first HTTP authentication" not in page
    assert "/authentications/new/" not in page
    assert "ask an administrator to add you to Integrators" in page


def test_a_key_administrator_is_offered_the_first_steps_too(client: Any, django_user_model: Any) -> None:
    kim = put_in_role(
        django_user_model.objects.create_user(username="kim", password="x"), "Key administrators"
    )
    client.force_login(kim)
    assert "Create your first HTTP authentication" in client.get("/").content.decode()
