"""Key administrators' pages for API clients: issue a key (shown once, stored hashed), list, revoke."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.db import connection

from api.models import ApiClient
from authentications.models import AuditEvent
from tests.api.consumer import get_token

pytestmark = pytest.mark.django_db

KEY = re.compile(r"nsc_[A-Za-z0-9_-]{43}")
PAGES = [
    ("get", "/api-clients/"),
    ("get", "/api-clients/new/"),
    ("post", "/api-clients/new/"),
    ("get", "/api-clients/1/revoke/"),
    ("post", "/api-clients/1/revoke/"),
]


def every_stored_value() -> str:
    """Every column of every table, as text: where a leaked key would be."""
    values: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608  (table names from the database)
            values.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(values)


def test_a_new_key_is_shown_once_and_stored_only_as_its_hash(sam_client, acme, fake_netsuite):
    response = sam_client.post("/api-clients/new/", {"name": "Orders ETL", "authentications": [acme.pk]})
    page = response.content.decode()
    assert response.status_code == 200
    assert "it will not be shown again" in page
    assert "no-store" in response["Cache-Control"]
    (key,) = set(KEY.findall(page))

    client = ApiClient.objects.get()
    assert client.name == "Orders ETL"
    assert list(client.authentications.all()) == [acme]
    assert client.key_prefix == key[4:12]
    stored = every_stored_value()
    assert key not in stored
    assert key[12:] not in stored
    assert hashlib.sha256(key.encode()).hexdigest() in stored

    # Later pages never show it again, yet the key works.
    for url in ("/api-clients/", f"/api-clients/{client.pk}/revoke/", "/authentications/acme-erp/"):
        assert key[12:] not in sam_client.get(url).content.decode()
    assert get_token(sam_client, "acme-erp", key).status_code == 200


def test_issuing_a_key_is_audited_without_the_key(sam_client, acme):
    page = sam_client.post("/api-clients/new/", {"name": "Orders ETL", "authentications": [acme.pk]})
    (key,) = set(KEY.findall(page.content.decode()))
    event = AuditEvent.objects.get(action="api_client.create")
    assert event.actor_label == "sam"
    assert event.details == {
        "api_client": "Orders ETL",
        "key_prefix": key[4:12],
        "authentications": ["acme-erp"],
    }


def test_the_form_needs_a_name_and_an_authentication(sam_client, acme):
    response = sam_client.post("/api-clients/new/", {"name": ""})
    page = response.content.decode()
    assert response.status_code == 422
    assert "This field is required." in page
    assert "Choose at least one HTTP authentication." in page
    assert ApiClient.objects.count() == 0
    assert not KEY.search(page)


def test_the_form_refuses_a_name_already_taken(sam_client, acme, issue):
    issue(acme, name="Orders ETL")
    response = sam_client.post("/api-clients/new/", {"name": "Orders ETL", "authentications": [acme.pk]})
    assert response.status_code == 422
    assert "An API client with this name already exists." in response.content.decode()
    assert ApiClient.objects.count() == 1


def test_the_form_offers_each_authentication_as_a_checkbox(sam_client, acme):
    page = sam_client.get("/api-clients/new/").content.decode()
    assert 'type="checkbox"' in page and "Acme ERP" in page


def test_the_list_shows_each_client_its_uses_and_last_use(sam_client, client, acme, issue, fake_netsuite):
    issued = issue(acme, name="Orders ETL")
    page = sam_client.get("/api-clients/").content.decode()
    assert "Orders ETL" in page
    assert f"nsc_{issued.client.key_prefix}…" in page
    assert "Acme ERP" in page
    assert "Never" in page

    for _ in range(3):
        get_token(client, "acme-erp", issued.key)
    issued.client.refresh_from_db()
    page = sam_client.get("/api-clients/").content.decode()
    assert '<td data-label="Total uses">3</td>' in page
    assert f"{issued.client.last_used_at:%Y-%m-%d %H:%M}" in page
    assert "Never" not in page


def test_revoking_asks_first_then_stops_the_key_and_is_audited(
    sam_client, client, acme, issue, fake_netsuite
):
    issued = issue(acme)
    url = f"/api-clients/{issued.client.pk}/revoke/"
    confirm = sam_client.get(url)
    assert "Revoke the API key of Orders ETL?" in confirm.content.decode()
    assert ApiClient.objects.get().revoked_at is None

    response = sam_client.post(url, follow=True)
    page = response.content.decode()
    assert "Revoked the API key of Orders ETL." in page
    assert "Revoked " in page
    assert ApiClient.objects.get().revoked_at is not None
    assert get_token(client, "acme-erp", issued.key).status_code == 401
    event = AuditEvent.objects.get(action="api_client.revoke")
    assert event.actor_label == "sam"
    assert event.details["api_client"] == "Orders ETL"

    # Revoking again changes nothing and is not audited twice.
    again = sam_client.post(url, follow=True)
    assert "was already revoked" in again.content.decode()
    assert AuditEvent.objects.filter(action="api_client.revoke").count() == 1


def test_key_administrators_see_the_api_clients_link(sam_client):
    assert 'href="/api-clients/"' in sam_client.get("/authentications/").content.decode()


def test_others_do_not_see_the_api_clients_link(alice_client):
    assert 'href="/api-clients/"' not in alice_client.get("/authentications/").content.decode()


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_signed_in_users_who_are_not_key_administrators_get_403(alice_client, acme, issue, method, url):
    issue(acme)
    before = (ApiClient.objects.filter(revoked_at=None).count(), AuditEvent.objects.count())
    response = getattr(alice_client, method)(url, {"name": "Sneaky", "authentications": [acme.pk]})
    assert response.status_code == 403
    assert (ApiClient.objects.filter(revoked_at=None).count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_users_are_sent_to_sign_in(client, acme, issue, method, url):
    issue(acme)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert ApiClient.objects.filter(revoked_at=None).count() == 1


@pytest.mark.parametrize("value", ["99999999999999999999999", str(2**63), "-1", "abc"])
def test_the_form_refuses_an_authentication_no_id_can_be(sam_client, acme, value):
    """GIVEN a crafted post naming an authentication id past any integer the database holds
    WHEN the form is sent THEN it answers with a message at the field, not an error page."""
    sam_client.raise_request_exception = False
    response = sam_client.post("/api-clients/new/", {"name": "Orders ETL", "authentications": [value]})

    assert response.status_code == 422
    assert "authentications" in response.context["form"].errors
    assert not ApiClient.objects.exists()
