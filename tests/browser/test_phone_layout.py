"""Every page a key administrator reaches fits a phone's screen, and the menu collapses there.

At 390 px the page is no wider than the screen (tables and long values scroll or wrap in their
own box), the menu hides behind a toggler until pressed; at 1280 px it shows whole."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, ViewportSize, expect

from api.services import api_client_create
from authentications.services.key_pairs import key_pair_generate
from authentications.services.pending_keys import key_generate_pending
from tests.browser.conftest import sign_in

PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)
# No space to wrap at: a name is shown whole in headings, tables and links.
LONG_NAME = "Northwind-Traders-Production-Warehouse-Integration-EU-West-1"
# Fixed places for a person to look at the pages as a phone shows them.
SCREENSHOT = "/tmp/nsconnect-phone-list.png"  # noqa: S108
SCREENSHOTS = Path("/tmp/nsconnect-phone")  # noqa: S108
MENU = "Toggle navigation"
OPEN = re.compile(r"(^|\s)show(\s|$)")

PAGES = [
    "dashboard",
    "authentications list",
    "authentication detail",
    "authentication detail with a pending key",
    "edit form",
    "new form",
    "delete confirmation",
    "rotation wizard",
    "rotation wizard with a pending key",
    "key pair generation",
    "key pair detail",
    "audit trail",
    "API clients list",
    "new API client",
    "password change",
]


@pytest.fixture
def site(kim: Any, authentication_in_state: Any) -> dict[str, str]:
    """Two authentications (one with a long name and a pending key), a generated key pair of
    nobody and an API client; the path of each page by its name."""
    acme = authentication_in_state("Acme ERP", token_seconds=3600)
    northwind = authentication_in_state(LONG_NAME, token_seconds=3600)
    key_generate_pending(authentication=northwind, actor=kim, kind="p256", days=365, common_name=LONG_NAME)
    key_pair = key_pair_generate(actor=kim, kind="p256", days=365, common_name=LONG_NAME)
    api_client_create(actor=kim, name=f"{LONG_NAME} orders", authentications=[acme, northwind])
    return {
        "dashboard": "/",
        "authentications list": "/authentications/",
        "authentication detail": f"/authentications/{acme.identifier}/",
        "authentication detail with a pending key": f"/authentications/{northwind.identifier}/",
        "edit form": f"/authentications/{northwind.identifier}/edit/",
        "new form": "/authentications/new/",
        "delete confirmation": f"/authentications/{northwind.identifier}/delete/",
        "rotation wizard": f"/authentications/{acme.identifier}/rotate/",
        "rotation wizard with a pending key": f"/authentications/{northwind.identifier}/rotate/",
        "key pair generation": "/authentications/keys/new/",
        "key pair detail": f"/authentications/keys/{key_pair.pk}/",
        "audit trail": "/audit/",
        "API clients list": "/api-clients/",
        "new API client": "/api-clients/new/",
        "password change": "/accounts/password_change/",
    }


def widths(page: Page) -> tuple[int, int]:
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return scroll_width, inner_width


@pytest.mark.parametrize("name", PAGES)
def test_a_page_fits_a_phone_and_its_menu_opens_from_the_toggler(
    page: Page, live_server: Any, site: dict[str, str], name: str
) -> None:
    """GIVEN a key administrator on a 390 px phone WHEN she opens a page THEN it is no wider than
    the screen, and Sign out is hidden until she presses the menu toggler, then there to press."""
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "kim")
    page.goto(f"{live_server.url}{site[name]}")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name.replace(' ', '-')}.png", full_page=True)
    # Every problem is listed at once, so one run shows all that is wrong with the page.
    problems = []

    scroll_width, inner_width = widths(page)
    if scroll_width > inner_width:
        problems.append(f"it is {scroll_width} px wide on a {inner_width} px screen")
    sign_out = page.get_by_role("button", name="Sign out")
    toggler = page.get_by_role("button", name=MENU)
    if sign_out.is_visible():
        problems.append("Sign out shows before the menu is opened")
    if not toggler.is_visible():
        problems.append("there is no menu toggler")
    else:
        toggler.click()
        try:
            expect(page.locator("#main-menu")).to_have_class(OPEN)  # the opening slide has ended
            expect(sign_out).to_be_visible()
            sign_out.click(trial=True, timeout=2000)  # visible, enabled, and nothing covers it
        except (AssertionError, PlaywrightError):
            problems.append("Sign out cannot be pressed once the menu is open")
        if toggler.get_attribute("aria-expanded") != "true":
            problems.append("the open menu's toggler does not say aria-expanded=true")
        # Opened, the menu pushes the page down, not sideways.
        scroll_width, inner_width = widths(page)
        if scroll_width > inner_width:
            problems.append(f"with the menu open it is {scroll_width} px wide")
    assert not problems, f"The {name} page ({site[name]}) at 390 px: " + "; ".join(problems)


def test_a_person_on_a_phone_opens_the_menu_and_signs_out(
    page: Page, live_server: Any, site: dict[str, str]
) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "kim")
    page.goto(f"{live_server.url}{site['authentications list']}")
    expect(page.get_by_role("link", name=LONG_NAME)).to_be_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("button", name=MENU).click()
    expect(page.locator("#main-menu")).to_have_class(OPEN)  # the opening slide has ended
    expect(page.get_by_role("link", name="Audit trail")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "menu-open.png")
    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


@pytest.mark.parametrize("name", ["dashboard", "authentications list", "audit trail"])
def test_at_1280_px_the_menu_shows_whole_without_a_toggler(
    page: Page, live_server: Any, site: dict[str, str], name: str
) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server, "kim")
    page.goto(f"{live_server.url}{site[name]}")

    toggler = page.get_by_role("button", name=MENU, include_hidden=True)
    expect(toggler, f"The {name} page has no menu toggler to hide").to_have_count(1)
    expect(toggler, f"The menu toggler shows on the {name} page at 1280 px").to_be_hidden()
    for link in ("Dashboard", "HTTP authentications", "New", "Audit trail", "API clients"):
        expect(
            page.get_by_role("navigation", name="Main").get_by_role("link", name=link, exact=True)
        ).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    scroll_width, inner_width = widths(page)
    assert scroll_width <= inner_width, f"The {name} page is {scroll_width} px wide at {inner_width} px"


@pytest.mark.parametrize(
    ("name", "current"),
    [
        ("dashboard", "Dashboard"),
        ("authentications list", "HTTP authentications"),
        ("new form", "New"),
        ("audit trail", "Audit trail"),
        ("API clients list", "API clients"),
    ],
)
def test_the_menu_marks_the_page_you_are_on(
    page: Page, live_server: Any, site: dict[str, str], name: str, current: str
) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server, "kim")
    page.goto(f"{live_server.url}{site[name]}")

    menu = page.get_by_role("navigation", name="Main")
    expect(menu.locator("[aria-current=page]")).to_have_count(1)
    expect(menu.get_by_role("link", name=current, exact=True)).to_have_attribute("aria-current", "page")
