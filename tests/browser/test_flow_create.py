"""Flow: an integrator creates an HTTP authentication as Alumio's article tells it: a key pair
made on her own computer and its certificate uploaded to NetSuite (the `register` fixture), the
form filled in, "Retrieve an access token key" pressed, then Save; with a wrong Certificate ID
first, on a phone, and with the keyboard alone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.conftest import Flow, sign_in
from tests.browser.test_authentication_form import field
from tests.conftest import Registered, new_certificate_id
from tests.fake_netsuite import TOKEN_PATH, FakeNetSuite

NAME = "Acme ERP"
RETRIEVE = "Retrieve an access token key"
SCOPES = ("RESTlets", "REST web services")
PHONE = ViewportSize(width=390, height=844)


@pytest.fixture
def alice_signed_in(page: Page, live_server: Any, transactional_db: None, alice: Any) -> Page:
    return sign_in(page, live_server, "alice")


def open_new_form(page: Page, live_server: Any) -> None:
    page.goto(f"{live_server.url}/authentications/new/")
    expect(page.get_by_role("heading", name="New HTTP authentication")).to_be_visible()


def fill_in(page: Page, pair: Registered, token_url: str, *, certificate_id: str | None = None) -> None:
    field(page, "Name").fill(NAME)
    field(page, "Authentication URL").fill(token_url)
    field(page, "Consumer key").fill(pair.consumer_key)
    for scope in SCOPES:
        page.get_by_label(scope, exact=True).check()
    field(page, "Private key").fill(pair.private_key_pem)
    field(page, "Certificate").fill(pair.certificate_pem)
    field(page, "Certificate ID").fill(certificate_id or pair.certificate_id)
    field(page, "JWT algorithm").select_option("ES256")


def token_requests(fake_netsuite: FakeNetSuite) -> int:
    return sum(1 for request in fake_netsuite.requests if request.path == TOKEN_PATH)


def expect_saved_with_its_token(page: Page, fake_netsuite: FakeNetSuite) -> None:
    """The detail page has the token Retrieve got; the list shows it with its token."""
    expect(page).to_have_url(re.compile(r"/authentications/acme-erp/$"))
    expect(page.get_by_text(f"Saved {NAME} with the access token retrieved on the form")).to_be_visible()
    expect(page.locator("#token-status")).to_contain_text("Valid until")
    page.goto(page.url.split("/authentications/")[0] + "/authentications/")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=NAME))
    expect(row).to_contain_text("Valid until")
    expect(row).to_contain_text("ES256")
    assert len(fake_netsuite.issued_tokens) == 1, "Save asked NetSuite for a second token"


def test_an_integrator_creates_an_authentication_with_a_pasted_key_and_certificate(
    alice_signed_in: Page, flow: Flow, live_server: Any, fake_netsuite: FakeNetSuite, register: Any
) -> None:
    page = alice_signed_in
    pair = register("p256")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New", exact=True).click()
    expect(page.get_by_role("heading", name="New HTTP authentication")).to_be_visible()
    fill_in(page, pair, fake_netsuite.token_url)
    flow.seen("filled-form", picture="form")

    page.get_by_role("button", name=RETRIEVE).click()
    expect(page.locator("#retrieve-result")).to_contain_text("Access token retrieved, valid until")
    expect(page.locator("#retrieve-result")).to_be_focused()
    flow.seen("retrieved")
    page.get_by_role("button", name="Save").click()

    expect_saved_with_its_token(page, fake_netsuite)
    flow.seen("in-the-list")


def test_a_wrong_certificate_id_is_explained_then_fixed_and_retried(
    alice_signed_in: Page, flow: Flow, live_server: Any, fake_netsuite: FakeNetSuite, register: Any
) -> None:
    page = alice_signed_in
    pair = register("p256")
    open_new_form(page, live_server)
    # The Certificate ID of another mapping, say one copied from the wrong row.
    fill_in(page, pair, fake_netsuite.token_url, certificate_id=new_certificate_id())

    page.get_by_role("button", name=RETRIEVE).click()
    result = page.locator("#retrieve-result")
    expect(result).to_contain_text("NetSuite did not accept the credentials (invalid_client)")
    expect(result).to_contain_text("the certificate ID")
    expect(result).to_contain_text("Login Audit Trail")
    flow.seen("refused")

    # Saved as it is, the form asks first; the key pasted stays kept for the form.
    page.get_by_role("button", name="Save").click()
    question = page.get_by_role("alert").filter(has_text="NetSuite refused these credentials: save anyway?")
    expect(question).to_be_focused()
    expect(page.locator("#kept-key")).to_contain_text("EC P-256")
    flow.seen("save-anyway")

    field(page, "Certificate ID").fill(pair.certificate_id)
    page.get_by_role("button", name=RETRIEVE).click()
    expect(result).to_contain_text("Access token retrieved, valid until")
    expect(result).not_to_contain_text("invalid_client")
    # The question was about the values NetSuite refused: it goes with them.
    expect(question).to_have_count(0)
    page.get_by_role("button", name="Save", exact=True).click()

    expect_saved_with_its_token(page, fake_netsuite)
    assert token_requests(fake_netsuite) == 2


def test_an_integrator_creates_an_authentication_on_a_phone(
    page: Page,
    flow: Flow,
    live_server: Any,
    transactional_db: None,
    alice: Any,
    fake_netsuite: FakeNetSuite,
    register: Any,
) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "alice")
    pair = register("p256")
    page.get_by_role("button", name="Toggle navigation").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New", exact=True).click()
    expect(page.get_by_role("heading", name="New HTTP authentication")).to_be_visible()
    fill_in(page, pair, fake_netsuite.token_url)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "wider than the phone"
    flow.seen("filled-form", picture="phone")

    page.get_by_role("button", name=RETRIEVE).click()
    expect(page.locator("#retrieve-result")).to_contain_text("Access token retrieved, valid until")
    page.get_by_role("button", name="Save").click()

    expect_saved_with_its_token(page, fake_netsuite)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "wider than the phone"


def tab_to(page: Page, selector: str, *, backwards: bool = False, limit: int = 60) -> None:
    """Press Tab (or Shift+Tab) until the element is focused, as a person moves through a form."""
    for _ in range(limit):
        if page.evaluate("(selector) => document.activeElement.matches(selector)", selector):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    pytest.fail(f"Tab never reached {selector}")


def test_an_integrator_creates_an_authentication_with_the_keyboard_alone(
    page: Page,
    flow: Flow,
    live_server: Any,
    transactional_db: None,
    alice: Any,
    fake_netsuite: FakeNetSuite,
    register: Any,
) -> None:
    pair = register("p256")
    page.goto(f"{live_server.url}/authentications/new/")
    # Sent to sign in first; the username field has focus, Enter signs in.
    tab_to(page, "#id_username")
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type("x")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New HTTP authentication")).to_be_visible()

    # The form opens in Name.
    expect(field(page, "Name")).to_be_focused()
    page.keyboard.type(NAME)
    tab_to(page, "#id_token_url")
    page.keyboard.type(fake_netsuite.token_url)
    page.keyboard.press("Tab")
    page.keyboard.type(pair.consumer_key)
    for box in ("#id_scopes_0", "#id_scopes_1"):
        tab_to(page, box)
        page.keyboard.press("Space")
    tab_to(page, "#id_private_key")
    page.keyboard.insert_text(pair.private_key_pem)  # pasted, as with Ctrl+V
    tab_to(page, "#id_certificate")
    page.keyboard.insert_text(pair.certificate_pem)
    tab_to(page, "#id_certificate_id")
    page.keyboard.type(pair.certificate_id)
    page.keyboard.press("Tab")
    expect(field(page, "JWT algorithm")).to_be_focused()
    page.keyboard.type("ES256")  # a closed select takes typed letters
    expect(field(page, "JWT algorithm")).to_have_value("ES256")
    for scope in SCOPES:
        expect(page.get_by_label(scope, exact=True)).to_be_checked()
    flow.seen("filled-form")

    tab_to(page, "button[name=retrieve_token]")
    page.keyboard.press("Enter")
    result = page.locator("#retrieve-result")
    expect(result).to_contain_text("Access token retrieved, valid until")
    # Focus moved to the answer; the Save button is just before it.
    expect(result).to_be_focused()
    tab_to(page, "button[name=save]:not([hidden])", backwards=True)
    page.keyboard.press("Space")

    expect_saved_with_its_token(page, fake_netsuite)
