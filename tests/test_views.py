"""The pages: who may see them, what they show, and what they never show."""

from __future__ import annotations

import re

import pytest

from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from tests.conftest import put_in_role

pytestmark = pytest.mark.django_db

PAGES = [
    ("get", "/"),
    ("get", "/authentications/"),
    ("get", "/authentications/new/"),
    ("post", "/authentications/new/"),
    ("get", "/authentications/acme-erp/"),
    ("get", "/authentications/acme-erp/edit/"),
    ("post", "/authentications/acme-erp/edit/"),
    ("get", "/authentications/acme-erp/delete/"),
    ("post", "/authentications/acme-erp/delete/"),
    ("post", "/authentications/acme-erp/retrieve-token/"),
    ("get", "/admin/"),
]


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_requests_go_to_sign_in_and_change_nothing(
    client, register, create_authentication, fake_netsuite, method, url
):
    create_authentication(register("p256"))
    before = (HttpAuthentication.objects.count(), AuditEvent.objects.count())
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/") or response["Location"].startswith(
        "/admin/login/"
    )
    assert (HttpAuthentication.objects.count(), AuditEvent.objects.count()) == before
    assert fake_netsuite.requests == []


def test_sign_in_page_is_served(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert "Sign in" in response.content.decode()


def test_the_list_shows_each_authentication(alice_client, register, create_authentication):
    create_authentication(register("rsa3072"), name="Acme ERP", account_id="1234567_SB1", token_url="")
    page = alice_client.get("/authentications/").content.decode()
    assert "Acme ERP" in page
    assert "Netsuite" in page
    assert "1234567-sb1.suitetalk.api.netsuite.com" in page
    assert "PS256" in page
    assert "730 days left" in page
    assert "None yet" in page


def test_the_root_is_the_dashboard(alice_client):
    response = alice_client.get("/")
    assert response.status_code == 200
    assert '<h1 class="h3 mb-3">Dashboard</h1>' in response.content.decode()


def test_the_form_has_alumios_fields_in_order(alice_client):
    """GIVEN the new form WHEN it opens THEN it reads as Alumio's screen: the connection (settings
    and provider as text, account, URL, consumer key, scopes), then the key with its certificate,
    Certificate ID and JWT algorithm, then alerts and the optional certificate endpoint IDs."""
    page = alice_client.get("/authentications/new/").content.decode()
    legends = ["Connection", "Key", "Alerts", "NetSuite certificate endpoint (optional)"]
    legend_positions = [page.index(f">{legend}</legend>") for legend in legends]
    assert legend_positions == sorted(legend_positions)
    labels = [
        "Name",
        "Account ID",
        "Authentication URL",
        "Consumer key",
        "Scopes",
        "Private key",
        "Private key passphrase",
        "Certificate",
        "Certificate ID",
        "JWT algorithm",
    ]
    names = [
        "name",
        "account_id",
        "token_url",
        "consumer_key",
        "scopes",
        "private_key",
        "private_key_passphrase",
        "certificate",
        "certificate_id",
        "jwt_algorithm",
        "alert_recipients",
        "netsuite_role_id",
    ]
    positions = [page.index(f'name="{name}"') for name in names]
    assert positions == sorted(positions)
    for label in labels:
        assert re.search(rf">\s*{label}\s*(<|$)", page, re.MULTILINE), label
    # One choice each: shown as text, not as a select of one option.
    assert 'name="settings_type"' not in page and 'name="provider"' not in page
    assert re.search(r"Settings</dt>\s*<dd[^>]*>OAuth2 authentication</dd>", page)
    assert re.search(r"Provider</dt>\s*<dd[^>]*>Netsuite</dd>", page)
    assert '<option value="PS256" selected>' in page
    assert 'name="retrieve_token"' in page and "Retrieve an access token key" in page
    assert ">Save</button>" in page


def test_the_detail_page_shows_the_key_and_never_the_secrets(
    alice, alice_client, register, create_authentication, fake_netsuite
):
    put_in_role(alice, "Key administrators")  # so the delete page is shown, not refused
    registered = register("p384")
    authentication = create_authentication(registered)
    alice_client.post(f"/authentications/{authentication.identifier}/retrieve-token/")
    token = AccessToken.objects.get().value
    urls = [
        "/authentications/",
        f"/authentications/{authentication.identifier}/",
        f"/authentications/{authentication.identifier}/edit/",
        f"/authentications/{authentication.identifier}/delete/",
    ]
    for url in urls:
        page = alice_client.get(url).content.decode()
        assert token not in page, url
        for line in registered.private_key_pem.splitlines()[1:-1]:
            assert line not in page, url
    detail = alice_client.get(urls[1]).content.decode()
    assert "<title>Acme ERP · nsconnect</title>" in detail
    assert detail.count('id="key-history"') == 1
    assert registered.certificate_id in detail
    assert "EC P-384" in detail
    assert "Valid until" in detail


def test_the_admin_never_shows_the_secrets(
    client, django_user_model, register, create_authentication, fake_netsuite
):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin)
    registered = register("p256")
    authentication = create_authentication(registered)
    client.post(f"/authentications/{authentication.identifier}/retrieve-token/")
    token = AccessToken.objects.get()
    key = SigningKey.objects.get()
    for url in [
        "/admin/authentications/httpauthentication/",
        f"/admin/authentications/httpauthentication/{authentication.pk}/change/",
        f"/admin/authentications/signingkey/{key.pk}/change/",
        f"/admin/authentications/accesstoken/{token.pk}/change/",
        "/admin/authentications/auditevent/",
        "/admin/authentications/accesstoken/",
        "/admin/authentications/signingkey/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert token.value not in page, url
        assert registered.private_key_pem.splitlines()[1] not in page, url


def test_delete_asks_first_then_deletes_and_keeps_the_audit_trail(
    alice, alice_client, register, create_authentication
):
    put_in_role(alice, "Key administrators")
    authentication = create_authentication(register("p256"))
    url = f"/authentications/{authentication.identifier}/delete/"
    page = alice_client.get(url).content.decode()
    assert "stays active until it is revoked there" in page
    assert HttpAuthentication.objects.count() == 1
    response = alice_client.post(url)
    assert response["Location"] == "/authentications/"
    assert HttpAuthentication.objects.count() == 0
    assert SigningKey.objects.count() == 0
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "authentication_name"))
    assert actions == [("authentication.create", "Acme ERP"), ("authentication.delete", "Acme ERP")]


def test_unknown_identifiers_are_not_found(alice_client):
    assert alice_client.get("/authentications/nothing-here/").status_code == 404
    assert alice_client.post("/authentications/nothing-here/retrieve-token/").status_code == 404


def test_retrieve_token_needs_post(alice_client, register, create_authentication):
    authentication = create_authentication(register("p256"))
    response = alice_client.get(f"/authentications/{authentication.identifier}/retrieve-token/")
    assert response.status_code == 405


def test_the_admin_is_read_only(client, django_user_model, register, create_authentication):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin)
    authentication = create_authentication(register("p256"))
    url = f"/admin/authentications/httpauthentication/{authentication.pk}/change/"
    client.post(url, {"name": "Changed", "token_url": "https://example.com/"})
    authentication.refresh_from_db()
    assert authentication.name == "Acme ERP"
    assert client.get("/admin/authentications/httpauthentication/add/").status_code == 403
