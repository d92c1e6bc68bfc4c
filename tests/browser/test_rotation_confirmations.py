"""A key administrator rotates a key through the wizard in a real browser, confirming each
irreversible step on the page that asks (activate, abandon, revoke, roll back)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from authentications.models import HttpAuthentication, SigningKey
from tests.browser.test_authentication_form import field
from tests.conftest import new_certificate_id
from tests.fake_netsuite import FakeNetSuite

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def confirm(page: Page, question: str, button: str, *facts: str, shot: str) -> None:
    """On the page that asks: the question, what happens, what cannot be undone, the keys; then yes."""
    expect(page.get_by_role("heading", name=question)).to_be_visible()
    expect(page.get_by_role("heading", name="What will happen")).to_be_visible()
    expect(page.get_by_role("heading", name="What cannot be undone")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel")).to_be_visible()
    for fact in facts:
        expect(page.get_by_text(fact).first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"rotation-confirm-{shot}.png"), full_page=True)
    page.get_by_role("button", name=button).click()


def generate(page: Page) -> None:
    page.get_by_role("button", name="Generate a new key pair").click()
    expect(page.get_by_role("heading", name=re.compile("^Pending key"))).to_be_visible()


def test_a_key_administrator_rotates_confirming_each_step_then_revokes_and_rolls_back(
    kim_signed_in: Page,
    live_server: Any,
    problems: list[str],
    register: Any,
    create_authentication: Any,
    fake_netsuite: FakeNetSuite,
) -> None:
    page = kim_signed_in
    old = register("p256")
    authentication: HttpAuthentication = create_authentication(old)
    wizard = f"{live_server.url}/authentications/{authentication.identifier}/rotate/"
    page.goto(wizard)

    # A first new key, abandoned: asked, cancelled once, then confirmed.
    generate(page)
    pending = SigningKey.objects.get(authentication=authentication, state="pending")
    page.get_by_role("button", name="Abandon: delete the pending key").click()
    expect(page.get_by_role("heading", name="Delete the pending key?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(wizard)
    assert SigningKey.objects.filter(pk=pending.pk).exists()
    page.get_by_role("button", name="Abandon: delete the pending key").click()
    confirm(
        page,
        "Delete the pending key?",
        "Yes, delete the pending key",
        pending.fingerprint_sha256,
        "deleted for good",
        shot="abandon",
    )
    expect(page.get_by_text("The pending key was deleted")).to_be_visible()
    assert not SigningKey.objects.filter(pk=pending.pk).exists()

    # A second one, uploaded to NetSuite, verified and activated.
    generate(page)
    pending = SigningKey.objects.get(authentication=authentication, state="pending")
    certificate_id = new_certificate_id()
    fake_netsuite.register(
        consumer_key=authentication.consumer_key,
        certificate_id=certificate_id,
        certificate_pem=pending.certificate_pem,
    )
    field(page, "Certificate ID").fill(certificate_id)
    page.get_by_role("button", name="Save Certificate ID").click()
    page.get_by_role("button", name="Verify the new key").click()
    expect(page.get_by_text("NetSuite gave a token with the new key")).to_be_visible()
    page.get_by_role("button", name="Activate the new key").click()
    confirm(
        page,
        "Activate the new key?",
        "Yes, activate the new key",
        certificate_id,
        old.certificate_id,
        pending.fingerprint_sha256,
        shot="activate",
    )
    expect(page.get_by_text(f"The key with Certificate ID {certificate_id} is now active")).to_be_visible()

    # Roll back to the old key.
    page.get_by_role("button", name=f"Roll back to {old.certificate_id}").click()
    confirm(
        page,
        f"Roll back to {old.certificate_id}?",
        f"Yes, roll back to {old.certificate_id}",
        certificate_id,
        shot="rollback",
    )
    expect(page.get_by_text("Rolled back")).to_be_visible()
    assert authentication.active_key().certificate_id == old.certificate_id

    # The key rolled back from is now the previous one: revoke it, and its rollback is gone.
    page.get_by_role("button", name="Revoke old certificate in NetSuite").click()
    confirm(
        page,
        "Revoke the old certificate in NetSuite?",
        "Yes, revoke it in NetSuite",
        certificate_id,
        "no longer possible",
        shot="revoke",
    )
    expect(page.get_by_text("HTTP 200")).to_be_visible()
    page.get_by_role("link", name="Back to the rotation").click()
    expect(page.get_by_text("Revoked in NetSuite on")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Roll back to"))).to_have_count(0)
    expect(page.get_by_role("button", name="Revoke old certificate in NetSuite")).to_have_count(0)
