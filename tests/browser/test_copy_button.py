"""Copy buttons say "Copied" when the text is on the clipboard (and tell screen readers so),
then what they said before; a copy the browser refuses says what to do instead."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

# A browser that refuses the clipboard (no permission, no secure context) rejects writeText.
REFUSING_CLIPBOARD = """
Object.defineProperty(navigator, "clipboard", {
  value: { writeText: () => Promise.reject(new DOMException("refused", "NotAllowedError")) },
});
"""


def test_copy_says_copied_then_copy_again(
    kim_signed_in: Page, context: BrowserContext, live_server: Any, authentication_in_state: Any
) -> None:
    page = kim_signed_in
    authentication_in_state("Acme ERP", token_seconds=3600)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(f"{live_server.url}/authentications/acme-erp/")

    page.get_by_role("button", name="Copy identifier").click()

    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_have_count(1)
    assert page.evaluate("navigator.clipboard.readText()") == "acme-erp"
    # A few seconds later the button is as it was, ready to copy again.
    expect(page.get_by_role("button", name="Copy identifier")).to_be_visible(timeout=6000)
    expect(page.get_by_role("button", name="Copied")).to_have_count(0)


def test_a_refused_copy_says_to_copy_by_hand(
    kim_signed_in: Page, context: BrowserContext, live_server: Any, authentication_in_state: Any
) -> None:
    page = kim_signed_in
    authentication_in_state("Acme ERP", token_seconds=3600)
    page.add_init_script(REFUSING_CLIPBOARD)
    page.goto(f"{live_server.url}/authentications/acme-erp/")

    page.get_by_role("button", name="Copy identifier").click()

    expect(page.get_by_role("button", name="Copy failed: select the text and copy it")).to_be_visible()
