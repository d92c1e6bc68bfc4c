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
# The scopes the fake NetSuite's integration records tick, as the form's checkboxes name them.
SCOPES = ("RESTlets", "REST web services")
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
    """Type the form as an integrator does, in its order; return what each field should now show."""
    # No Account ID: the Authentication URL is given, which the help text says is enough.
    connection = {
        "Name": NAME,
        "Authentication URL": token_url,
        "Consumer key": registered.consumer_key,
    }
    key = {
        "Private key": registered.private_key_pem,
        "Certificate": registered.certificate_pem,
        "Certificate ID": registered.certificate_id,
    }
    # Settings and provider have one choice each: shown as text, nothing to choose.
    expect(page.locator("#authentication-form")).to_contain_text("OAuth2 authentication")
    for label, value in connection.items():
        field(page, label).fill(value)
    for scope in SCOPES:
        page.get_by_label(scope, exact=True).check()
    for label, value in key.items():
        field(page, label).fill(value)
    field(page, "JWT algorithm").select_option(label=algorithm)
    return connection | key | {"JWT algorithm": algorithm}


def expect_fields_to_show(page: Page, values: dict[str, str]) -> None:
    for label, value in values.items():
        expect(field(page, label)).to_have_value(value)
    for scope in SCOPES:
        expect(page.get_by_label(scope, exact=True)).to_be_checked()


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
    expect(page.get_by_text(f"Saved {NAME} with the access token retrieved on the form")).to_be_visible()
    # The token Retrieve got is the record's: no second request, no "None yet".
    expect(page.locator("#token-status")).to_contain_text("Valid until")
    expect(page.get_by_text("None yet")).to_have_count(0)
    assert len(fake_netsuite.issued_tokens) == 1

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
    # The field itself is marked, its message under it, and focus is on the result.
    expect(field(page, "JWT algorithm")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_jwt_algorithm_error")).to_contain_text("choose ES256")
    expect(retrieve_result(page)).to_be_focused()
    # The key is kept for the form: only the algorithm that fits it is offered now.
    expect(page.locator("#kept-key")).to_contain_text("EC P-256")
    assert field(page, "JWT algorithm").locator("option").all_inner_texts() == ["ES256"]
    assert fake_netsuite.requests == []

    retrieve_result(page).get_by_role("link", name="JWT algorithm").click()
    expect(field(page, "JWT algorithm")).to_be_focused()
    page.get_by_role("button", name=RETRIEVE).click()
    expect(retrieve_result(page)).to_contain_text("Access token retrieved, valid until")


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


def test_enter_in_a_field_saves_and_never_retrieves(
    new_form: Page, register: Any, fake_netsuite: FakeNetSuite
) -> None:
    """GIVEN the filled-in form WHEN Enter is pressed in the Name field THEN the form is saved (the
    hidden default button is Save) and NetSuite is not asked."""
    page = new_form
    fill_in(page, register("p256"), algorithm="ES256", token_url=fake_netsuite.token_url)

    field(page, "Name").press("Enter")

    expect(page).to_have_url(re.compile(r"/authentications/acme-erp/$"))
    expect(page.get_by_text(f"Saved {NAME}.")).to_be_visible()
    assert fake_netsuite.requests == []


def test_a_failed_save_takes_focus_to_a_summary_whose_links_reach_the_fields(
    new_form: Page, register: Any, fake_netsuite: FakeNetSuite
) -> None:
    """GIVEN a mistyped consumer key and no scope ticked WHEN saved THEN focus is on the summary
    at the top ("There is a problem"), which links to each field; the key is not asked again."""
    page = new_form
    registered = register("rsa3072")
    fill_in(page, registered, algorithm="PS256", token_url=fake_netsuite.token_url)
    field(page, "Consumer key").fill("nope")
    for scope in SCOPES:
        page.get_by_label(scope, exact=True).uncheck()

    page.get_by_role("button", name="Save").click()

    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_text(["Consumer key", "Scopes"])
    # Every field keeps its message too.
    expect(field(page, "Consumer key")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#kept-key")).to_contain_text("RSA 3072")
    assert registered.private_key_pem.splitlines()[1] not in page.content()

    summary.get_by_role("link", name="Consumer key").click()
    expect(field(page, "Consumer key")).to_be_focused()
    summary.get_by_role("link", name="Scopes").click()
    expect(page.get_by_label(SCOPES[0], exact=True)).to_be_focused()

    field(page, "Consumer key").fill(registered.consumer_key)
    for scope in SCOPES:
        page.get_by_label(scope, exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/authentications/acme-erp/$"))


def test_save_after_a_refused_retrieve_asks_first(
    new_form: Page, register: Any, fake_netsuite: FakeNetSuite
) -> None:
    page = new_form
    fill_in(page, register("p256"), algorithm="ES256", token_url=fake_netsuite.token_url)
    fake_netsuite.fail_next("invalid_client")
    page.get_by_role("button", name=RETRIEVE).click()
    expect(retrieve_result(page)).to_contain_text("invalid_client")

    page.get_by_role("button", name="Save").click()

    question = page.get_by_role("alert").filter(has_text="NetSuite refused these credentials: save anyway?")
    expect(question).to_be_focused()
    expect(question).to_contain_text("invalid_client")
    expect(page).to_have_url(re.compile(r"/authentications/new/$"))
    question.get_by_role("button", name="Save anyway").click()
    expect(page).to_have_url(re.compile(r"/authentications/acme-erp/$"))
    expect(page.get_by_text("None yet")).to_be_visible()
