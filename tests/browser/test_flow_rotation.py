"""Flow: a key administrator rotates a key through the whole wizard by its buttons, sees the
rotation complete with what changed and what is next, then rolls back; and a double click on
Generate makes one key without an error."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, ViewportSize, expect

from authentications.models import HttpAuthentication, SigningKey
from tests.browser.conftest import Flow
from tests.browser.test_authentication_form import field
from tests.conftest import new_certificate_id
from tests.fake_netsuite import FakeNetSuite

PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)


def current_step(page: Page, text: str) -> None:
    """The list of steps marks `text` as the current one, in words and for screen readers."""
    steps = page.get_by_role("list", name="Rotation steps")
    current = steps.locator('[aria-current="step"]')
    expect(current).to_have_count(1)
    expect(current).to_contain_text(text)
    expect(current).to_contain_text("current")


def fits_a_phone(page: Page, flow: Flow, step: str) -> None:
    """The page as it is, at 390 px: no wider than the screen (a Certificate ID on a button wraps)."""
    page.set_viewport_size(PHONE)
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"{step}: {scroll_width} px wide on a {inner_width} px screen"
    flow.seen(step)
    page.set_viewport_size(DESKTOP)


def test_a_key_administrator_rotates_through_the_wizard_and_rolls_back(
    page: Page,
    flow: Flow,
    kim_signed_in: Page,
    live_server: Any,
    register: Any,
    create_authentication: Any,
    fake_netsuite: FakeNetSuite,
) -> None:
    old = register("p384")
    authentication: HttpAuthentication = create_authentication(old)
    page.goto(f"{live_server.url}/authentications/{authentication.identifier}/")
    page.get_by_role("link", name="Rotate key").click()

    # The new key starts on the type of the key it replaces.
    expect(page.get_by_role("heading", name="Rotate the key of Acme ERP")).to_be_visible()
    expect(page.get_by_label("Key type")).to_have_value("p384")
    current_step(page, "1. New key")
    flow.seen("new-key")

    page.get_by_role("button", name="Generate a new key pair").click()
    expect(page.get_by_role("heading", name=re.compile("^Pending key"))).to_be_visible()
    current_step(page, "2. Certificate in NetSuite")
    flow.seen("pending-key")
    pending = SigningKey.objects.get(authentication=authentication, state="pending")
    assert pending.key_description == "EC P-384"

    # In NetSuite: the downloaded certificate is uploaded, and NetSuite shows its Certificate ID.
    certificate_id = new_certificate_id()
    fake_netsuite.register(
        consumer_key=authentication.consumer_key,
        certificate_id=certificate_id,
        certificate_pem=pending.certificate_pem,
    )
    field(page, "Certificate ID").fill(certificate_id)
    page.get_by_role("button", name="Save Certificate ID").click()
    current_step(page, "3. Verify")
    flow.seen("certificate-id")

    page.get_by_role("button", name="Verify the new key").click()
    expect(page.get_by_text("NetSuite gave a token with the new key")).to_be_visible()
    current_step(page, "4. Activate")
    steps = page.get_by_role("list", name="Rotation steps")
    expect(steps.get_by_role("listitem").filter(has_text="3. Verify")).to_contain_text("done")
    expect(steps.get_by_role("listitem").filter(has_text="5. Rotation complete")).to_contain_text("next")
    flow.seen("verified", picture="wizard")

    page.get_by_role("button", name="Activate the new key").click()
    expect(page.get_by_role("heading", name="Activate the new key?")).to_be_visible()
    flow.seen("confirm-activate")
    page.get_by_role("button", name="Yes, activate the new key").click()

    complete = page.locator("#rotation-complete")
    expect(page.get_by_role("heading", name="Rotation complete")).to_be_visible()
    current_step(page, "5. Rotation complete")
    expect(page.get_by_role("heading", name="What changed")).to_be_visible()
    expect(complete).to_contain_text("EC P-384")
    expect(complete).to_contain_text(certificate_id)
    expect(complete).to_contain_text(pending.fingerprint_sha256)
    expect(complete).to_contain_text("Signs tokens since")
    expect(complete).to_contain_text(f"Certificate ID {old.certificate_id}")
    expect(complete).to_contain_text("kept for rollback until")
    expect(page.get_by_role("heading", name="What is next")).to_be_visible()
    expect(complete.get_by_role("button", name=f"Roll back to {old.certificate_id}")).to_be_visible()
    expect(complete.get_by_role("button", name="Revoke old certificate in NetSuite")).to_be_visible()
    expect(complete).to_contain_text("once you no longer want the way back")
    expect(complete.get_by_role("link", name="Start another rotation")).to_be_visible()
    flow.seen("rotation-complete", picture="rotation-complete")

    # It is the stored keys that say so, not the message of the moment: a reload says the same.
    page.reload()
    expect(page.get_by_role("heading", name="Rotation complete")).to_be_visible()
    expect(page.get_by_text("is now active")).to_have_count(0)
    fits_a_phone(page, flow, "rotation-complete-phone")

    complete.get_by_role("button", name=f"Roll back to {old.certificate_id}").click()
    expect(page.get_by_role("heading", name=f"Roll back to {old.certificate_id}?")).to_be_visible()
    flow.seen("confirm-rollback")
    page.get_by_role("button", name=f"Yes, roll back to {old.certificate_id}").click()

    expect(
        page.get_by_text(f"the key with Certificate ID {old.certificate_id} is active again")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Rotation complete")).to_have_count(0)
    expect(page.get_by_text(f"from the active key (Certificate ID {old.certificate_id}")).to_be_visible()
    current_step(page, "1. New key")
    flow.seen("rolled-back")
    fits_a_phone(page, flow, "rolled-back-phone")
    active = authentication.active_key()
    assert active is not None and active.certificate_id == old.certificate_id


def test_a_double_click_on_generate_makes_one_key_and_reports_no_error(
    kim_signed_in: Page,
    live_server: Any,
    problems: list[str],
    register: Any,
    create_authentication: Any,
) -> None:
    """A double click as a person makes it, on Generate for an RSA 4096 key (which takes the
    server a moment, so the second click lands while the first is still being answered)."""
    page = kim_signed_in
    authentication: HttpAuthentication = create_authentication(register("rsa4096"))
    page.goto(f"{live_server.url}/authentications/{authentication.identifier}/rotate/")
    expect(page.get_by_label("Key type")).to_have_value("rsa4096")
    # The guard is in a script at the end of the page: a person clicks once it has loaded.
    page.wait_for_load_state("load")
    button = page.get_by_role("button", name="Generate a new key pair")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None

    # The mouse rather than button.dblclick(), whose two clicks come too close together for the
    # first to have left; these are 100 ms apart, as a person's are.
    page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, delay=100)

    expect(page.get_by_role("heading", name=re.compile("^Pending key"))).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert SigningKey.objects.filter(authentication=authentication, state="pending").count() == 1
    expect(page.get_by_text("already in progress")).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)
