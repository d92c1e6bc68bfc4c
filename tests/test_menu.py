"""The menu marks the page you are on, and the section of the pages within one; the account's
name leads to its password change."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.services import api_client_create
from authentications.services.key_pairs import key_pair_generate
from tests.conftest import put_in_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def kim_client(client: Any, django_user_model: Any) -> Any:
    kim = django_user_model.objects.create_user(username="kim", password="x")
    client.force_login(put_in_role(kim, "Key administrators"))
    client.kim = kim
    return client


def marked(page: str) -> list[tuple[str, str]]:
    """(aria-current, link text) of each menu item marked as where you are."""
    menu = page[page.index('<nav class="navbar') : page.index("</nav>")]
    found = []
    for link in re.finditer(r"<a class=\"nav-link[^\"]*\"[^>]*>.*?</a>", menu, re.DOTALL):
        current = re.search(r'aria-current="(\w+)"', link[0])
        if current or " active" in link[0].split(">")[0]:
            assert current, f"an active item says nothing to screen readers: {link[0]}"
            text = re.sub(r"<[^>]+>", "", link[0]).strip()
            found.append((current[1], text))
    return found


def test_every_page_marks_its_menu_item(kim_client: Any, authentication_in_state: Any) -> None:
    acme = authentication_in_state("Acme ERP", token_seconds=3600)
    key_pair = key_pair_generate(actor=kim_client.kim, kind="p256", days=365, common_name="Acme")
    issued = api_client_create(actor=kim_client.kim, name="Orders ETL", authentications=[acme])
    detail = f"/authentications/{acme.identifier}/"
    expected = {
        "/": ("page", "Dashboard"),
        "/authentications/": ("page", "HTTP authentications"),
        "/authentications/?state=healthy&page=1": ("page", "HTTP authentications"),
        detail: ("true", "HTTP authentications"),
        f"{detail}edit/": ("true", "HTTP authentications"),
        f"{detail}delete/": ("true", "HTTP authentications"),
        f"{detail}rotate/": ("true", "HTTP authentications"),
        "/authentications/keys/new/": ("true", "HTTP authentications"),
        f"/authentications/keys/{key_pair.pk}/": ("true", "HTTP authentications"),
        "/authentications/new/": ("page", "New"),
        "/audit/": ("page", "Audit trail"),
        "/api-clients/": ("page", "API clients"),
        "/api-clients/new/": ("true", "API clients"),
        f"/api-clients/{issued.client.pk}/revoke/": ("true", "API clients"),
        "/accounts/password_change/": ("page", "kim: change password"),
    }
    for path, item in expected.items():
        response = kim_client.get(path)
        assert response.status_code == 200, path
        assert marked(response.content.decode()) == [item], path


def test_the_account_name_leads_to_its_password_change(kim_client: Any) -> None:
    page = kim_client.get("/").content.decode()
    assert (
        '<a class="nav-link text-break" href="/accounts/password_change/"><span>kim</span>'
        '<span class="visually-hidden">: change password</span></a>'
    ) in page
