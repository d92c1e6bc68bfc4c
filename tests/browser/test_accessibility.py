"""Every page passes axe-core at 1280 px and at 390 px, and the keyboard gets where it needs to.

axe-core (tests/browser/axe.py) reports no critical or serious violation on any page a key
administrator reaches, on the sign-in page, and on the 403, 404 and 500 pages. A skip link is the
first thing Tab reaches and takes the keyboard past the menu; the new form starts in its first
field."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error
from playwright.sync_api import Page, ViewportSize, expect

from api.services import api_client_create
from authentications.services.key_pairs import key_pair_generate
from authentications.services.pending_keys import key_generate_pending
from tests.browser.axe import serious_violations
from tests.browser.conftest import sign_in
from tests.browser.test_authentication_form import field
from tests.conftest import put_in_role

WIDTHS = {
    "1280 px": ViewportSize(width=1280, height=800),
    "390 px": ViewportSize(width=390, height=844),
}
SKIP_LINK = "Skip to main content"
# No space to wrap at: tables and long values must scroll in their own box on a phone, and a box
# that scrolls must be reachable by the keyboard.
LONG_NAME = "Northwind-Traders-Production-Warehouse-Integration-EU-West-1"

# The pages by name, and who looks at them: the key administrator Kim, the integrator Ian, or
# nobody signed in.
PAGES = {
    "dashboard": "kim",
    "authentications list": "kim",
    "authentication detail": "kim",
    "authentication detail with a pending key": "kim",
    "new form": "kim",
    "edit form": "kim",
    "delete confirmation": "kim",
    "rotation wizard": "kim",
    "rotation wizard with a pending key": "kim",
    "key pair generation": "kim",
    "key pair detail": "kim",
    "audit trail": "kim",
    "API clients list": "kim",
    "new API client": "kim",
    "API client revoke confirmation": "kim",
    "password change": "kim",
    "sign-in page": "",
    "403 page": "ian",
    "404 page": "kim",
}


@pytest.fixture
def ian(django_user_model: Any) -> Any:
    """Ian is an integrator: rotating a key is refused him with the 403 page."""
    user = django_user_model.objects.create_user(username="ian", email="ian@example.com", password="x")
    return put_in_role(user, "Integrators")


@pytest.fixture
def site(kim: Any, ian: Any, authentication_in_state: Any) -> dict[str, str]:
    """Two authentications (one with a pending key), a generated key pair and an API client;
    the path of each page by its name."""
    acme = authentication_in_state("Acme ERP", token_seconds=3600)
    northwind = authentication_in_state(LONG_NAME, token_seconds=3600)
    key_generate_pending(authentication=northwind, actor=kim, kind="p256", days=365, common_name=LONG_NAME)
    key_pair = key_pair_generate(actor=kim, kind="p256", days=365, common_name=LONG_NAME)
    issued = api_client_create(actor=kim, name=f"{LONG_NAME} orders", authentications=[acme, northwind])
    return {
        "dashboard": "/",
        "authentications list": "/authentications/",
        "authentication detail": f"/authentications/{acme.identifier}/",
        "authentication detail with a pending key": f"/authentications/{northwind.identifier}/",
        "new form": "/authentications/new/",
        "edit form": f"/authentications/{acme.identifier}/edit/",
        "delete confirmation": f"/authentications/{acme.identifier}/delete/",
        "rotation wizard": f"/authentications/{acme.identifier}/rotate/",
        "rotation wizard with a pending key": f"/authentications/{northwind.identifier}/rotate/",
        "key pair generation": "/authentications/keys/new/",
        "key pair detail": f"/authentications/keys/{key_pair.pk}/",
        "audit trail": "/audit/",
        "API clients list": "/api-clients/",
        "new API client": "/api-clients/new/",
        "API client revoke confirmation": f"/api-clients/{issued.client.pk}/revoke/",
        "password change": "/accounts/password_change/",
        "sign-in page": "/accounts/login/",
        "403 page": f"/authentications/{acme.identifier}/rotate/",
        "404 page": "/authentications/no-such-authentication/",
    }


def cases() -> list[Any]:
    return [pytest.param(name, width, id=f"{name}-{width}") for name in PAGES for width in WIDTHS]


@pytest.mark.parametrize(("name", "width"), cases())
def test_a_page_has_no_serious_accessibility_violation(
    page: Page, live_server: Any, site: dict[str, str], name: str, width: str
) -> None:
    """GIVEN a person at 1280 px or on a 390 px phone WHEN she opens a page THEN axe-core finds
    no critical or serious violation on it."""
    page.set_viewport_size(WIDTHS[width])
    if PAGES[name]:
        sign_in(page, live_server, PAGES[name])
    page.goto(f"{live_server.url}{site[name]}")

    found = serious_violations(page)

    assert not found, f"The {name} page ({site[name]}) at {width}:\n" + "\n".join(found)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_server_error_page_has_no_serious_accessibility_violation(
    page: Page, live_server: Any, transactional_db: None, width: str
) -> None:
    """No page raises on purpose, so the 500 page Django's handler renders (templates/500.html,
    without a request) is served at an address of the live server, its stylesheet and all."""
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    page.route(
        f"{live_server.url}/server-error/",
        lambda route: route.fulfill(status=500, content_type="text/html", body=response.content),
    )
    page.set_viewport_size(WIDTHS[width])
    page.goto(f"{live_server.url}/server-error/")
    expect(page.get_by_role("heading", name="Something went wrong")).to_be_visible()

    found = serious_violations(page)

    assert not found, f"The 500 page at {width}:\n" + "\n".join(found)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_skip_link_is_the_first_tab_stop_and_takes_the_keyboard_past_the_menu(
    page: Page, live_server: Any, site: dict[str, str], width: str
) -> None:
    """GIVEN Kim on the dashboard with the keyboard alone WHEN she presses Tab THEN "Skip to main
    content" shows and has focus; WHEN she presses Enter and Tab THEN focus is in the page's own
    content, not in the menu."""
    page.set_viewport_size(WIDTHS[width])
    sign_in(page, live_server, "kim")
    skip_link = page.get_by_role("link", name=SKIP_LINK)
    box = skip_link.bounding_box()
    assert box is not None and box["width"] <= 1, "The skip link shows before it has focus"

    page.keyboard.press("Tab")

    expect(skip_link).to_be_focused()
    box = skip_link.bounding_box()
    assert box is not None and box["width"] > 1 and box["height"] > 1, "The focused skip link does not show"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    in_main = page.evaluate(
        "document.activeElement !== document.body && !!document.activeElement.closest('main')"
    )
    assert in_main, "Tab after the skip link went back to the menu"


@pytest.mark.parametrize("name", ["new form", "edit form"])
def test_the_form_opens_in_its_first_field(
    page: Page, live_server: Any, site: dict[str, str], name: str
) -> None:
    """GIVEN Kim with the keyboard alone WHEN she opens the form THEN what she types goes into Name."""
    sign_in(page, live_server, "kim")
    page.goto(f"{live_server.url}{site[name]}")

    expect(field(page, "Name")).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(" typed")
    expect(field(page, "Name")).to_have_value(re.compile(r" typed$"))
