"""Pages keep working under the Content Security Policy, and a page that breaks it fails its
browser test (the csp_violations fixture in conftest.py watches every browser test)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.test_authentication_form import field


def sign_in(page: Page, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    field(page, "Username").fill(username)
    field(page, "Password").fill("password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_the_admin_works_under_the_policy(
    page: Page, live_server: Any, admin_user: Any, register: Any, create_authentication: Any
) -> None:
    """GIVEN an administrator and a saved authentication WHEN they browse the Django admin
    THEN its scripts run (filters, row selection, the groups selector, date shortcuts) and
    no page breaks the policy."""
    authentication = create_authentication(register("p256"))
    sign_in(page, live_server, "admin")
    admin = f"{live_server.url}/admin"

    page.goto(f"{admin}/")
    expect(page.get_by_role("link", name="Http authentications", exact=True)).to_be_visible()

    page.goto(f"{admin}/authentications/httpauthentication/?q=acme")
    page.get_by_role("link", name="Acme ERP").click()
    expect(page).to_have_url(re.compile(rf"/httpauthentication/{authentication.pk}/change/"))
    expect(page.get_by_text(authentication.identifier).first).to_be_visible()

    page.goto(f"{admin}/authentications/signingkey/")
    page.locator("#changelist-filter").get_by_role("link", name="active").click()
    expect(page).to_have_url(re.compile(r"state__exact=active"))
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    page.goto(f"{admin}/auth/user/")
    page.locator("#result_list tbody input.action-select").first.check()
    expect(page.locator(".action-counter")).to_contain_text("1 of")

    page.goto(f"{admin}/auth/user/{admin_user.pk}/change/")
    expect(page.locator("#id_groups_from")).to_be_attached()
    expect(page.locator(".datetimeshortcuts").first).to_be_visible()


def test_the_copy_button_copies_the_new_api_key(
    page: Page,
    context: BrowserContext,
    live_server: Any,
    admin_user: Any,
    register: Any,
    create_authentication: Any,
) -> None:
    """GIVEN a key administrator issuing an API key WHEN they press Copy on the page that shows
    it once THEN the key is on the clipboard (the button works from a script file, not onclick)."""
    create_authentication(register("p256"))
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/api-clients/new/")
    field(page, "Name").fill("Orders ETL")
    page.get_by_label("Acme ERP").check()
    page.get_by_role("button", name="Issue API key").click()
    key = page.get_by_label("API key").input_value()
    assert key.startswith("nsc_")

    page.get_by_role("button", name="Copy").click()

    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key


def test_a_page_breaking_the_policy_is_caught(
    page: Page, live_server: Any, csp_violations: list[str]
) -> None:
    """GIVEN a page served with nsconnect's policy and an inline script WHEN Chromium loads it
    THEN the script does not run and the violation is recorded, which fails any other test."""
    policy = page.goto(f"{live_server.url}/accounts/login/").headers["content-security-policy"]
    inline = "<!doctype html><title>probe</title><script>document.title = 'inline script ran'</script>"
    page.route(
        f"{live_server.url}/probe/",
        lambda route: route.fulfill(
            body=inline, headers={"Content-Type": "text/html", "Content-Security-Policy": policy}
        ),
    )

    page.goto(f"{live_server.url}/probe/")

    expect(page).to_have_title("probe")
    page.evaluate("0")  # delivers the console message
    assert any("script-src" in violation for violation in csp_violations), csp_violations
    csp_violations.clear()  # seen: this test provoked it
