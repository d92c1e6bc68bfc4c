"""A person generates a key pair on the HTTP Authentication form, in a real browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from authentications.models import SigningKey
from tests.browser.test_authentication_form import field
from tests.conftest import new_certificate_id, new_consumer_key
from tests.fake_netsuite import FakeNetSuite

NAME = "Acme ERP"
SCREENSHOT = "/tmp/nsconnect-key-generation.png"  # noqa: S108 - a fixed place for a person to look at it


def sign_in(page: Page, live_server: Any) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    field(page, "Username").fill("alice")
    field(page, "Password").fill("x")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_person_generates_a_key_pair_on_the_form_and_retrieves_a_token_with_it(
    page: Page,
    live_server: Any,
    transactional_db: None,
    alice: Any,
    fake_netsuite: FakeNetSuite,
    tmp_path: Path,
) -> None:
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/authentications/new/")
    field(page, "Name").fill(NAME)
    expect(field(page, "JWT algorithm")).to_have_value("PS256")

    page.locator("#key-pair-panel summary").click()
    field(page, "Key type").select_option(label="EC P-384")
    page.get_by_role("button", name="Generate a new key pair").click()

    panel = page.locator("#key-pair-panel")
    expect(panel).to_contain_text("EC P-384")
    expect(panel).to_contain_text("CN=Acme ERP")
    expect(field(page, "JWT algorithm")).to_have_value("ES384")
    # Only the algorithm that fits the key pair is offered.
    assert field(page, "JWT algorithm").locator("option").all_inner_texts() == ["ES384"]
    # The pasted key and certificate are not asked for any more.
    expect(field(page, "Private key")).to_be_hidden()
    expect(field(page, "Certificate")).to_be_hidden()
    page.screenshot(path=SCREENSHOT, full_page=True)

    with page.expect_download() as download_info:
        panel.get_by_role("link", name="Download acme-erp.pem").click()
    download = download_info.value
    assert download.suggested_filename == "acme-erp.pem"
    certificate = tmp_path / "acme-erp.pem"
    download.save_as(certificate)

    # In NetSuite: upload the certificate, get a Certificate ID back.
    certificate_id, consumer_key = new_certificate_id(), new_consumer_key()
    fake_netsuite.register(
        consumer_key=consumer_key, certificate_id=certificate_id, certificate_pem=certificate.read_text()
    )
    field(page, "Certificate ID").fill(certificate_id)
    field(page, "Consumer key").fill(consumer_key)
    page.get_by_label("RESTlets", exact=True).check()
    page.get_by_label("REST web services", exact=True).check()
    field(page, "Authentication URL").fill(fake_netsuite.token_url)

    page.get_by_role("button", name="Retrieve an access token key").click()
    expect(page.locator("#retrieve-result")).to_contain_text("Access token retrieved, valid until")
    header = fake_netsuite.requests[-1].jose_header
    assert header is not None and header["alg"] == "ES384"

    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/authentications/acme-erp/$"))
    # Shown twice: as the active key and in the key history.
    expect(page.get_by_text(certificate_id).first).to_be_visible()
    signing_key = SigningKey.objects.get()
    assert (signing_key.state, signing_key.certificate_id) == ("active", certificate_id)
    assert signing_key.private_key.splitlines()[1] not in page.content()
