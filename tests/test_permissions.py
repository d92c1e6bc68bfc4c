"""Roles: who may do what, the groups the migration makes, and a menu that only offers what is allowed."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from api import services as api_services
from api.models import ApiClient
from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from authentications.services import token_single_flight
from tests.conftest import put_in_role, roles_made

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "viewer", "integrator", "key administrator", "superuser"]


@dataclass(frozen=True)
class Action:
    """One request, and the status each signed-in role gets (anonymous is always sent to sign in)."""

    name: str
    method: str
    path: str
    viewer: int
    integrator: int
    key_administrator: int
    superuser: int
    # What is posted, from the world the test sets up (see `world`).
    data: Any = field(default=None, compare=False)

    def expected(self, role: str) -> int:
        return {
            "viewer": self.viewer,
            "integrator": self.integrator,
            "key administrator": self.key_administrator,
            "superuser": self.superuser,
        }[role]


A = "/authentications/acme-erp"
R = f"{A}/rotate"


def new_form(world: dict[str, Any]) -> dict[str, str]:
    return world["form_data"](world["beta"], name="Beta WMS")


def edited_form(world: dict[str, Any]) -> dict[str, str]:
    return world["form_data"](world["acme"], name="Acme ERP (renamed)", private_key="")


def new_form_retrieve(world: dict[str, Any]) -> dict[str, str]:
    return {**new_form(world), "retrieve_token": "1"}


def edited_form_retrieve(world: dict[str, Any]) -> dict[str, str]:
    return {**edited_form(world), "retrieve_token": "1"}


def new_api_client(world: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Orders ETL", "authentications": [world["authentication"].pk]}


def new_key_pair(world: dict[str, Any]) -> dict[str, str]:
    return {"kind": "p256", "days": "730", "common_name": "Acme ERP"}


def blank_path(world: dict[str, Any]) -> dict[str, str]:
    return {"path": ""}


def active_key(world: dict[str, Any]) -> dict[str, str]:
    return {"signing_key": str(world["authentication"].active_key().pk)}


# The matrix: name, method, path, then the status a viewer, an integrator, a key administrator and a
# superuser get.
ACTIONS = [
    Action("dashboard", "get", "/", 200, 200, 200, 200),
    Action("list", "get", "/authentications/", 200, 200, 200, 200),
    Action("detail", "get", f"{A}/", 200, 200, 200, 200),
    Action("create page", "get", "/authentications/new/", 403, 200, 200, 200),
    Action("create", "post", "/authentications/new/", 403, 302, 302, 302, new_form),
    Action("create: retrieve", "post", "/authentications/new/", 403, 200, 200, 200, new_form_retrieve),
    Action("edit page", "get", f"{A}/edit/", 403, 200, 200, 200),
    Action("edit", "post", f"{A}/edit/", 403, 302, 302, 302, edited_form),
    Action("edit: retrieve", "post", f"{A}/edit/", 403, 200, 200, 200, edited_form_retrieve),
    Action("delete page", "get", f"{A}/delete/", 403, 403, 200, 200),
    Action("delete", "post", f"{A}/delete/", 403, 403, 302, 302),
    Action("retrieve token: GET", "get", f"{A}/retrieve-token/", 405, 405, 405, 405),
    Action("retrieve token", "post", f"{A}/retrieve-token/", 403, 302, 302, 302),
    Action("test request: GET", "get", f"{A}/test-request/", 405, 405, 405, 405),
    Action("test request", "post", f"{A}/test-request/", 403, 200, 200, 200, blank_path),
    Action("new key pair page", "get", "/authentications/keys/new/", 403, 200, 200, 200),
    Action("new key pair", "post", "/authentications/keys/new/", 403, 302, 302, 302, new_key_pair),
    Action("api clients", "get", "/api-clients/", 403, 403, 200, 200),
    Action("new api client page", "get", "/api-clients/new/", 403, 403, 200, 200),
    Action("new api client", "post", "/api-clients/new/", 403, 403, 200, 200, new_api_client),
    Action("revoke api client page", "get", "/api-clients/{client}/revoke/", 403, 403, 200, 200),
    Action("revoke api client", "post", "/api-clients/{client}/revoke/", 403, 403, 302, 302),
    # The rotation wizard (views/rotation.py, views/netsuite_certificates.py).
    Action("rotate page", "get", f"{R}/", 403, 403, 200, 200),
    Action("rotate: GET a step", "get", f"{R}/verify/", 405, 405, 405, 405),
    Action("rotate: new key", "post", f"{R}/generate/", 403, 403, 302, 302, new_key_pair),
    Action("rotate: certificate ID", "post", f"{R}/certificate-id/", 403, 403, 422, 422),
    Action("rotate: verify", "post", f"{R}/verify/", 403, 403, 302, 302),
    Action("rotate: activate", "post", f"{R}/activate/", 403, 403, 302, 302),
    Action("rotate: abandon", "post", f"{R}/abandon/", 403, 403, 302, 302),
    Action("rotate: roll back", "post", f"{R}/rollback/", 403, 403, 302, 302),
    Action("rotate: upload to NetSuite", "post", f"{R}/netsuite-upload/", 403, 403, 302, 302, active_key),
    Action("rotate: revoke in NetSuite", "post", f"{R}/netsuite-revoke/", 403, 403, 302, 302, active_key),
]


def sign_in(client: Client, role: str, django_user_model: Any) -> None:
    if role == "anonymous":
        return
    # No password: signing in is forced, and hashing one would cost more than the request.
    if role == "superuser":
        user = django_user_model.objects.create_superuser("root", "root@example.com", None)
    else:
        user = django_user_model.objects.create_user(username=role.replace(" ", "-"))
        if role != "viewer":
            put_in_role(user, {"integrator": "Integrators", "key administrator": "Key administrators"}[role])
    client.force_login(user)


def stored_state() -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    return {
        "authentications": list(HttpAuthentication.objects.values_list("identifier", "name", "updated_at")),
        "signing keys": list(SigningKey.objects.order_by("pk").values_list("pk", "state", "certificate_id")),
        "access tokens": list(AccessToken.objects.values_list("pk", "obtained_at")),
        "audit events": AuditEvent.objects.count(),
        "api clients": list(ApiClient.objects.order_by("pk").values_list("pk", "revoked_at")),
    }


@pytest.fixture
def world(register, create_authentication, form_data, fake_netsuite, alice) -> dict[str, Any]:
    """Acme ERP with a token, an API client that may read it, and a second key NetSuite knows."""
    acme = register("p256")
    authentication = create_authentication(acme)
    client_ = api_services.api_client_create(actor=alice, name="Billing", authentications=[authentication])
    world = {
        "acme": acme,
        "beta": register("p256"),
        "authentication": authentication,
        "client": client_.client,
        "form_data": form_data,
    }

    token_single_flight.token_get(authentication=authentication, actor="test")
    fake_netsuite.reset()
    return world


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS, ids=[action.name for action in ACTIONS])
def test_each_role_gets_exactly_what_it_may(
    client, django_user_model, world, fake_netsuite, role: str, action: Action
):
    sign_in(client, role, django_user_model)
    before = stored_state()
    path = action.path.format(client=world["client"].pk)
    data = action.data(world) if action.data else {}
    response = getattr(client, action.method)(path, data)

    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    else:
        assert response.status_code == action.expected(role), response.content.decode()[-6000:]
    if role == "anonymous" or response.status_code in (403, 405):
        assert stored_state() == before
        assert fake_netsuite.requests == []


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/authentications/new/", "You may not create HTTP authentications."),
        (f"{A}/edit/", "You may not edit HTTP authentications."),
        (f"{A}/delete/", "You may not delete HTTP authentications."),
        ("/authentications/keys/new/", "You may not create HTTP authentications or rotate signing keys."),
        ("/api-clients/", "You may not manage API clients."),
    ],
)
def test_the_403_page_says_what_is_missing(client, django_user_model, world, path, words):
    sign_in(client, "viewer", django_user_model)
    response = client.get(path)
    assert response.status_code == 403
    page = response.content.decode()
    assert words in page
    assert "Ask an administrator to add you to" in page
    assert 'href="/authentications/"' in page


def test_retrieve_on_the_form_also_needs_the_retrieve_permission(
    client, django_user_model, world, fake_netsuite
):
    """GIVEN a user who may create authentications but not retrieve tokens
    WHEN they press Retrieve on the new form
    THEN they get 403 and NetSuite is not asked; Save still works."""
    user = django_user_model.objects.create_user(username="carol")
    user.user_permissions.add(Permission.objects.get(codename="add_httpauthentication"))
    client.force_login(user)
    page = client.get("/authentications/new/").content.decode()
    assert "Retrieve an access token key" not in page
    response = client.post("/authentications/new/", new_form_retrieve(world))
    assert response.status_code == 403
    assert "You may not retrieve access tokens." in response.content.decode()
    assert fake_netsuite.requests == []
    assert client.post("/authentications/new/", new_form(world)).status_code == 302


def test_staff_alone_may_not_manage_api_clients(client, django_user_model):
    staff = django_user_model.objects.create_user(username="stella", is_staff=True)
    client.force_login(staff)
    assert client.get("/api-clients/").status_code == 403


def test_the_migration_makes_both_roles_with_exactly_their_permissions():
    roles_made()

    def permissions(name: str) -> set[str]:
        group = Group.objects.get(name=name)
        return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}

    integrators = {
        "authentications.view_httpauthentication",
        "authentications.add_httpauthentication",
        "authentications.change_httpauthentication",
        "authentications.retrieve_token",
    }
    assert permissions("Integrators") == integrators
    assert permissions("Key administrators") == integrators | {
        "authentications.delete_httpauthentication",
        "authentications.rotate_key",
        "api.view_apiclient",
        "api.add_apiclient",
        "api.change_apiclient",
        "api.delete_apiclient",
    }


def test_the_migration_can_be_undone_and_done_again():
    from django.apps import apps

    migration = importlib.import_module("authentications.migrations.0006_roles")
    migration.delete_roles(apps, None)
    assert not Group.objects.filter(name__in=["Integrators", "Key administrators"]).exists()
    migration.create_roles(apps, None)
    migration.create_roles(apps, None)  # twice is harmless
    assert Group.objects.get(name="Integrators").permissions.count() == 4
    assert Group.objects.get(name="Key administrators").permissions.count() == 10


MENU = {
    "New": 'href="/authentications/new/"',
    "New HTTP authentication": ">New HTTP authentication</a>",
    "API clients": 'href="/api-clients/"',
    "Edit": ">Edit</a>",
    "Delete": ">Delete</a>",
    "Retrieve": "Retrieve an access token key",
    "Send test request": ">Send test request</button>",
    "Rotate key": ">Rotate key</a>",
}


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("viewer", set()),
        ("integrator", {"New", "New HTTP authentication", "Edit", "Retrieve", "Send test request"}),
        ("key administrator", set(MENU)),
        ("superuser", set(MENU)),
    ],
)
def test_the_menu_and_buttons_only_offer_what_the_user_may_do(client, django_user_model, world, role, shown):
    sign_in(client, role, django_user_model)
    pages = client.get("/authentications/").content.decode() + client.get(f"{A}/").content.decode()
    assert {label for label, html in MENU.items() if html in pages} == shown


def test_the_admin_link_is_for_staff_only(client, django_user_model, world):
    sign_in(client, "key administrator", django_user_model)
    assert 'href="/admin/"' not in client.get("/").content.decode()
    staff = django_user_model.objects.create_user(username="stella", is_staff=True)
    client.force_login(staff)
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_a_superuser_gives_a_role_in_the_admin(client, django_user_model, alice):
    root = django_user_model.objects.create_superuser("root", "root@example.com", None)
    client.force_login(root)
    page = client.get(f"/admin/auth/user/{alice.pk}/change/").content.decode()
    assert "Key administrators" in page
    key_administrators = Group.objects.get(name="Key administrators")
    response = client.post(
        f"/admin/auth/user/{alice.pk}/change/",
        {
            "username": "alice",
            "email": "alice@example.com",
            "is_active": "on",
            "groups": [key_administrators.pk],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    alice = django_user_model.objects.get(pk=alice.pk)
    assert alice.has_perm("authentications.rotate_key")
