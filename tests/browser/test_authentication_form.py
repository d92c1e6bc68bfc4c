"""What a person sees in a real browser while filling in the HTTP Authentication form."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests import keyfactory
from tests.conftest import Registered, new_certificate_id, new_consumer_key
from tests.fake_netsuite import FakeNetSuite

NAME = "Acme ERP"
SCOPES = "restlets,rest_webservices"
RETRIEVE = "Retrieve an access token key"
SCREENSHOT = "/tmp/nsconnect-form.png"  # noqa: S108 - a fixed place for a person to look at it


def field(page: Page, label: str) -> Locator:
    # Matched whole, as crispy-forms marks required fields with "*" and
    # "Certificate" is also the start of "Certificate ID".
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}\*?\s*$"))


def retrieve_result(page: Page) -> Locator:
    return page.locator("#retrieve-result")


@pytest.fixture
def signed_in(page: Page, live_server: Any, transactional_db: None, alice: Any) -> Page:
    page.goto(f"{live_server.url}/accounts/login/")
    field(page, "Username").fill("alice")
    field(page, "Password").fill("x")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return page


@pytest.fixture
def new_form(signed_in: Page, live_server: Any) -> Page:
    signed_in.goto(f"{live_server.url}/authentications/new/")
    expect(signed_in.get_by_role("heading", name="New HTTP authentication")).to_be_visible()
    return signed_in


def fill_in(page: Page, registered: Registered, *, algorithm: str, token_url: str) -> dict[str, str]:
    """Type the form as an integrator does; return what each field should now show."""
    # No Account ID: the Authentication URL is given, which the help text says is enough.
    typed = {
        "Name": NAME,
        "Certificate ID": registered.certificate_id,
        "Consumer key": registered.consumer_key,
        "Scopes": SCOPES,
        "Authentication URL": token_url,
        "Private key": registered.private_key_pem,
        "Certificate": registered.certificate_pem,
    }
    field(page, "Settings").select_option(label="OAuth2 authentication")
    field(page, "Provider").select_option(label="Netsuite")
    field(page, "JWT algorithm").select_option(label=algorithm)
    for label, value in typed.items():
        field(page, label).fill(value)
    return typed | {"JWT algorithm": algorithm}


def expect_fields_to_show(page: Page, values: dict[str, str]) -> None:
    for label, value in values.items():
        expect(field(page, label)).to_have_value(value)


@pytest.mark.parametrize(("kind", "algorithm"), [("rsa4096", "PS256"), ("p256", "ES256")])
def test_a_person_retrieves_a_token_then_saves_and_finds_it_in_the_list(
    new_form: Page, live_server: Any, register: Any, fake_netsuite: FakeNetSuite, kind: str, algorithm: str
) -> None:
    page = new_form
    registered = register(kind)
    fill_in(page, registered, algorithm=algorithm, token_url=fake_netsuite.token_url)

    page.get_by_role("button", name=RETRIEVE).click()

    expect(retrieve_result(page)).to_contain_text("Access token retrieved, valid until")
    # htmx swapped only the result: a re-rendered form would have emptied the key.
    assert field(page, "Private key").input_value() == registered.private_key_pem
    expect(page.get_by_text("the private key is never sent back")).to_have_count(0)
    assert len(fake_netsuite.issued_tokens) == 1
    assert fake_netsuite.issued_tokens[0] not in page.content()
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/authentications/acme-erp/$"))
    expect(page.get_by_role("heading", name=NAME, level=1)).to_be_visible()
    expect(page.get_by_text(f"Saved {NAME}.")).to_be_visible()

    page.get_by_role("link", name="HTTP authentications").click()

    expect(page).to_have_url(re.compile(r"/authentications/$"))
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=NAME))
    expect(row).to_be_visible()
    expect(row).to_contain_text(algorithm)


def test_a_refused_retrieve_is_explained_beside_the_button(
    new_form: Page, register: Any, fake_netsuite: FakeNetSuite
) -> None:
    page = new_form
    registered = register("p256")
    typed = fill_in(page, registered, algorithm="ES256", token_url=fake_netsuite.token_url)
    fake_netsuite.fail_next("invalid_client")

    page.get_by_role("button", name=RETRIEVE).click()

    expect(retrieve_result(page)).to_contain_text("invalid_client")
    expect(retrieve_result(page)).to_contain_text("Login Audit Trail")
    expect_fields_to_show(page, typed)
    assert fake_netsuite.issued_tokens == []


def test_retrieve_lists_fields_to_fix(new_form: Page, register: Any, fake_netsuite: FakeNetSuite) -> None:
    page = new_form
    fill_in(page, register("p256"), algorithm="PS256", token_url=fake_netsuite.token_url)

    page.get_by_role("button", name=RETRIEVE).click()

    expect(retrieve_result(page)).to_contain_text("Fix these fields first")
    expect(retrieve_result(page)).to_contain_text("JWT algorithm")
    assert fake_netsuite.requests == []


def test_saving_a_bad_key_shows_the_message_at_the_field(new_form: Page, fake_netsuite: FakeNetSuite) -> None:
    page = new_form
    key = keyfactory.private_key("rsa2048")
    too_small = Registered(
        kind="rsa2048",
        private_key_pem=keyfactory.private_pem(key),
        certificate_pem=keyfactory.certificate_pem(key),
        certificate_id=new_certificate_id(),
        consumer_key=new_consumer_key(),
    )
    typed = fill_in(page, too_small, algorithm="PS256", token_url=fake_netsuite.token_url)

    page.get_by_role("button", name="Save").click()

    private_key_field = page.locator("#div_id_private_key")
    expect(private_key_field.get_by_text("NetSuite accepts RSA keys of 3072 or 4096 bits")).to_be_visible()
    expect(field(page, "Private key")).to_have_value("")
    expect(page.get_by_text("the private key is never sent back")).to_be_visible()
    expect_fields_to_show(page, {**typed, "Private key": ""})
    assert fake_netsuite.requests == []
